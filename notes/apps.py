from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "notes"
    verbose_name = "Notes and papers"

    def ready(self):
        from notes import signals

        signals.connect()
