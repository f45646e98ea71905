from django.urls import path

from exchange.views import exports, imports

app_name = "exchange"
urlpatterns = [
    path("import/", imports.import_page, name="import"),
    path("import/<int:pk>/", imports.import_job, name="import_job"),
    path("import/<int:pk>/notices/<int:notice>/title", imports.choose_title, name="choose_title"),
    path("export/", exports.export_page, name="export"),
    path("export/lablog.json", exports.export_everything_json, name="export_json"),
    path("export/lablog-markdown.zip", exports.export_everything_markdown, name="export_markdown"),
    path("notes/<int:pk>.md", exports.export_note_markdown, name="note_markdown"),
]
