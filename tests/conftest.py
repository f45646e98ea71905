import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from tests.celery_worker import CeleryWorker
from tests.private_redis import PrivateRedis, point_app_at_broker


def pytest_configure(config):
    # A production password hash costs half a second of CPU, and the suite makes one for nearly
    # every test's user; no test is about the hash's strength, and no subprocess checks a password.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


DB_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback", "live_server"}


def pytest_collection_modifyitems(items):
    """Searches read through a second connection to the same database (search/consistency.py,
    alias search_read): every test with database access may use it."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is None and not DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            continue
        kwargs = dict(marker.kwargs) if marker else {}
        if kwargs.get("databases") is None:
            kwargs["databases"] = "__all__"
            item.add_marker(pytest.mark.django_db(*(marker.args if marker else ()), **kwargs))


def _empty_broker() -> None:
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).flushdb()
    except redis.RedisError:
        pass  # tests that need Redis will say so


@pytest.fixture(scope="session", autouse=True)
def _clean_redis():
    """Each run starts with an empty broker database (a stale queue would feed old tasks to workers)."""
    _empty_broker()


@pytest.fixture(autouse=True)
def _own_search_index(settings, tmp_path):
    """A fresh index directory, in-process HNSW cache, keyword counts, kept question vectors
    and rankings per test: ids restart after a rollback, and an index, a count, a vector or a
    ranking kept from an earlier test would answer for the wrong rows (or count no embedding)."""
    from search import hnsw, kept_rankings, keyword, query_vectors

    settings.SEARCH_INDEX_DIR = str(tmp_path / "index")
    hnsw.forget()
    query_vectors.forget()
    kept_rankings.forget()
    keyword._matches_cache.clear()
    keyword._passages_cache.clear()
    yield
    hnsw.forget()


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("ada", password="correct horse battery")


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user("mallory", password="correct horse battery")


@pytest.fixture
def auth_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def other_client(other_user):
    client = Client()
    client.force_login(other_user)
    return client


@pytest.fixture
def celery_worker(transactional_db):
    """Start real Celery workers in subprocesses on the test database: `celery_worker(queues=[...])`.
    The broker starts the test empty: a task an earlier test queued and no worker ran names
    rows rolled back since, and on SQLite, whose ids start again, this test's rows (a user's
    index files were removed for a user deleted in another test)."""
    _empty_broker()
    started = []

    def start(queues=("default", "embed", "index"), **kwargs):
        worker = CeleryWorker(queues=list(queues), **kwargs)
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def private_redis(settings, tmp_path_factory):
    """Point this process (broker and worker heartbeats) at a Redis the test may stop;
    workers get it with `celery_worker(extra_env={"REDIS_URL": private_redis.url})`."""
    from lablog.celery import app

    server = PrivateRedis(tmp_path_factory.mktemp("redis", numbered=True))
    server.start()
    saved = app.conf.broker_url
    settings.REDIS_URL = server.url
    point_app_at_broker("redis+socket://" + str(server.socket))
    yield server
    point_app_at_broker(saved)
    if server.running():
        server.stop()
