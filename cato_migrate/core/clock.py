"""The real clock. Tests inject their own (see tests/fakes.py)."""
from __future__ import annotations

import time


class SystemClock:
    def now(self) -> float:
        """Wall-clock time: for records and people. Hosts disagree on it; never judge a lease by it."""
        return time.time()

    def monotonic(self) -> float:
        """Seconds on this process's steady clock: the only clock a lock contender measures waits on."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))
