from django.urls import path

from workers.views import artifacts, compare, runnables, runs

app_name = "workers"
urlpatterns = [
    path("notes/<int:note_id>/runnables/", runnables.note_runnables, name="note_runnables"),
    path("notes/<int:note_id>/runnables/add/", runnables.runnable_add, name="runnable_add"),
    path("runnables/<int:pk>/", runnables.runnable_edit, name="runnable"),
    path("runnables/<int:pk>/run/", runnables.runnable_run, name="runnable_run"),
    path("runnables/<int:pk>/delete/", runnables.runnable_delete, name="runnable_delete"),
    path("<int:pk>/", runs.run_detail, name="run"),
    path("<int:pk>/cancel/", runs.run_cancel, name="run_cancel"),
    path("<int:pk>/rerun/", runs.run_rerun, name="run_rerun"),
    path("<int:run_id>/artifacts/<path:name>", artifacts.artifact, name="artifact"),
    path("", runs.run_list, name="runs"),
    path("compare/", compare.compare, name="compare"),
]
