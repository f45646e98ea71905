"""Leaving a service alone for a while after it failed to answer (searchd, Redis): while it is
down or hung, every request would otherwise wait out its own timeout."""

import time


class Backoff:
    """`paused` for `seconds` after each `failed()`."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._until = 0.0

    @property
    def paused(self) -> bool:
        return time.monotonic() < self._until

    def failed(self) -> None:
        self._until = time.monotonic() + self.seconds

    def reset(self) -> None:
        self._until = 0.0
