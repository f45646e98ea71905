from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "workers"
    verbose_name = "Workers and runs"

    def ready(self):
        from workers import signals

        signals.connect()
