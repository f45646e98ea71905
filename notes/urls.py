from django.urls import path

from notes import views

app_name = "notes"
urlpatterns = [
    path("", views.log, name="log"),
    path("notes/<int:pk>/", views.note_detail, name="note"),
    path("papers/<int:pk>/", views.paper_detail, name="paper"),
]
