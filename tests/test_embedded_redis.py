import os
import subprocess
import sys
from pathlib import Path

import redis

from lablog.redis_server import wait_until_up

ROOT = Path(__file__).resolve().parent.parent


def test_make_run_starts_a_real_redis_on_a_private_socket_that_never_evicts_tasks(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env["LABLOG_VAR_DIR"] = str(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "lablog.redis_server"], cwd=ROOT, env=env)
    try:
        url = f"unix://{tmp_path / 'redis.sock'}"
        wait_until_up(url)
        client = redis.Redis.from_url(url)
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.config_get("port")["port"] == "0"  # no TCP port: cannot clash with a Redis on 6379
        client.set("k", "v")
        assert client.get("k") == b"v"
    finally:
        proc.terminate()
        proc.wait(10)
    assert (tmp_path / "redis").is_dir()
