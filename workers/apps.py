from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "workers"
    verbose_name = "Workers and runs"

    def ready(self):
        from search.indexing import register_run_summaries
        from workers import signals, summaries

        signals.connect()
        # Run summaries are searchable with their note.
        register_run_summaries(summaries.SOURCE)
