import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from tests.celery_worker import CeleryWorker


@pytest.fixture(scope="session", autouse=True)
def _clean_redis():
    """Each run starts with an empty broker database (a stale queue would feed old tasks to workers)."""
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).flushdb()
    except redis.RedisError:
        pass  # tests that need Redis will say so


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
    """Start real Celery workers in subprocesses on the test database: `celery_worker(queues=[...])`."""
    started = []

    def start(queues=("default", "embed", "index"), **kwargs):
        worker = CeleryWorker(queues=list(queues), **kwargs)
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
