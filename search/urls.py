from django.urls import path

from search.views import index_status, note_panels, results

app_name = "search"
urlpatterns = [
    path("", results.results, name="results"),
    path("status/", index_status.status, name="status"),
    path("status/reindex/", index_status.reindex, name="reindex"),
    path("status/reindex/progress/", index_status.reindex_progress, name="reindex_progress"),
    path("notes/<int:pk>/searchable/", index_status.note_searchable, name="note_searchable"),
    path("notes/<int:pk>/badge/", note_panels.index_badge, name="index_badge"),
    path("notes/<int:pk>/related/", note_panels.related, name="related"),
    path("notes/<int:pk>/related/<int:other_pk>/link/", note_panels.link_related, name="link_related"),
    path("notes/<int:pk>/related/<int:other_pk>/dismiss/", note_panels.dismiss_related, name="dismiss_related"),
    path("notes/<int:pk>/passage/", note_panels.passage, name="passage"),
]
