"""Failed sign-ins are slowed, then refused for a while, per account and per address.

Counts live in Redis (shared by every web process) for LOGIN_THROTTLE_WINDOW seconds
from the first failure. From the LOGIN_THROTTLE_SLOW_AFTER-th failure each further
attempt waits a little longer (up to 2 s); at LOGIN_THROTTLE_ACCOUNT_LIMIT failures for
one account, or LOGIN_THROTTLE_ADDRESS_LIMIT from one address, sign-in is refused until
the window passes, whatever the password. A correct sign-in clears the account's count.
If Redis cannot be reached, sign-in still works, unthrottled (and the error is logged).
"""

import hashlib
import logging
import time
from dataclasses import dataclass

import redis
from django.conf import settings

from lablog.redis_clients import redis_client

log = logging.getLogger(__name__)
MAX_DELAY_SECONDS = 2.0


@dataclass
class Verdict:
    refused: bool
    retry_after: int = 0  # seconds until the window passes
    delay: float = 0.0  # seconds to wait before checking the password


def client_address(request) -> str:
    """The caller's address: behind a trusted proxy (TRUSTED_PROXY), the one it appended to
    X-Forwarded-For; otherwise the socket's peer (a header a client sets itself proves nothing)."""
    if settings.TRUSTED_PROXY:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if forwarded:
            return forwarded[-1]
    return request.META.get("REMOTE_ADDR", "")


def _keys(username: str, address: str) -> tuple[str, str]:
    account = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
    return f"lablog:login-fail:account:{account}", f"lablog:login-fail:address:{address}"


def check(username: str, address: str) -> Verdict:
    """Before checking a password: refused (and for how long), or how long to wait first."""
    try:
        pipe = redis_client().pipeline()
        for key in _keys(username, address):
            pipe.get(key)
            pipe.ttl(key)
        account, account_ttl, by_address, address_ttl = pipe.execute()
    except redis.RedisError:
        log.warning("login throttle: Redis unreachable; sign-in is not throttled", exc_info=True)
        return Verdict(refused=False)
    account, by_address = int(account or 0), int(by_address or 0)
    if account >= settings.LOGIN_THROTTLE_ACCOUNT_LIMIT or by_address >= settings.LOGIN_THROTTLE_ADDRESS_LIMIT:
        ttl = max(account_ttl if account >= settings.LOGIN_THROTTLE_ACCOUNT_LIMIT else 0,
                  address_ttl if by_address >= settings.LOGIN_THROTTLE_ADDRESS_LIMIT else 0)
        return Verdict(refused=True, retry_after=max(ttl, 1))
    over = max(account, by_address) - settings.LOGIN_THROTTLE_SLOW_AFTER + 1
    delay = min(MAX_DELAY_SECONDS, settings.LOGIN_THROTTLE_DELAY * over) if over > 0 else 0.0
    return Verdict(refused=False, delay=delay)


def wait(verdict: Verdict) -> None:
    if verdict.delay:
        time.sleep(verdict.delay)


def failed(username: str, address: str) -> None:
    try:
        pipe = redis_client().pipeline()
        for key in _keys(username, address):
            # The window starts at the first failure (SET NX), later ones only count.
            pipe.set(key, 0, ex=settings.LOGIN_THROTTLE_WINDOW, nx=True)
            pipe.incr(key)
        pipe.execute()
    except redis.RedisError:
        log.warning("login throttle: could not count a failed sign-in", exc_info=True)


def succeeded(username: str) -> None:
    try:
        redis_client().delete(_keys(username, "")[0])
    except redis.RedisError:
        log.warning("login throttle: could not clear the count of %s", username, exc_info=True)
