from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = "Search"

    def ready(self):
        from django.db.backends.signals import connection_created

        from search import receivers
        from search.consistency import configure_read_connection

        receivers.connect()
        connection_created.connect(configure_read_connection, dispatch_uid="search-read-connection")
