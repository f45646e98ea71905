from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

from notes.views import attachments, log, notes, papers, revisions, snippets

app_name = "notes"
urlpatterns = [
    path("", log.log, name="log"),
    # Browsers ask for /favicon.ico whatever the page's <link rel=icon> says.
    path("favicon.ico", RedirectView.as_view(get_redirect_url=lambda *a, **k: static("favicon.svg"), permanent=False)),
    path("notes/new/", notes.note_new, name="new"),
    path("notes/preview/", notes.note_preview, name="preview"),
    path("notes/wiki/", notes.wiki, name="wiki"),
    path("notes/<int:pk>/", notes.note_detail, name="note"),
    path("notes/<int:pk>/edit/", notes.note_edit, name="edit"),
    path("notes/<int:pk>/task/", notes.note_task, name="task"),
    path("notes/<int:pk>/delete/", notes.note_delete, name="delete"),
    path("notes/<int:pk>/revisions/", revisions.revision_list, name="revisions"),
    path("notes/<int:pk>/revisions/<int:version>/", revisions.revision_detail, name="revision"),
    path("notes/<int:pk>/revisions/<int:version>/restore/", revisions.revision_restore, name="revision_restore"),
    path("notes/<int:pk>/files/", attachments.attachment_add, name="attachment_add"),
    path("notes/<int:pk>/files/<path:name>/delete/", attachments.attachment_delete, name="attachment_delete"),
    path("notes/<int:pk>/files/<path:name>", attachments.attachment, name="attachment"),
    path("notes/<int:pk>/snippets/", snippets.snippet_add, name="snippet_add"),
    path("notes/<int:pk>/snippets/order/", snippets.snippet_reorder, name="snippet_reorder"),
    path("snippets/<int:pk>/", snippets.snippet_detail, name="snippet"),
    path("snippets/<int:pk>/edit/", snippets.snippet_edit, name="snippet_edit"),
    path("snippets/<int:pk>/delete/", snippets.snippet_delete, name="snippet_delete"),
    path("snippets/<int:pk>/move/<str:direction>/", snippets.snippet_move, name="snippet_move"),
    path("papers/suggest/", log.paper_suggest, name="paper_suggest"),
    path("papers/", papers.paper_list, name="papers"),
    path("papers/new/", papers.paper_form, name="paper_new"),
    path("papers/arxiv-field/", papers.paper_arxiv_field, name="paper_arxiv_field"),
    path("papers/<int:pk>/", papers.paper_detail, name="paper"),
    path("papers/<int:pk>/edit/", papers.paper_form, name="paper_edit"),
    path("papers/<int:pk>/delete/", papers.paper_delete, name="paper_delete"),
]
