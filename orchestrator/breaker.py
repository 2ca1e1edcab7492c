"""Per-tier circuit breakers, and the board that picks a healthy tier for a routing decision.

closed --(failure_threshold counted failures within window_s)--> open
open --(cooldown_s elapsed)--> half_open: exactly one probe call is let through
half_open --probe succeeds--> closed;  --probe fails (counted kind)--> open, fresh cooldown

Only failures that say something about the backend's health count (BackendError.COUNTED:
throttling, server, timeout). A content filter or a 4xx is the caller's problem; it is kept in
the stats but can never open the breaker — otherwise one user's bad prompts could take a tier
down for everyone.

The clock is injected (monotonic by default) so tests drive time explicitly. A lock guards the
state: the gateway may call from several threads, and "one probe" must hold under races.
"""
from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from typing import Callable

from orchestrator.ports import BackendError, ModelTier, RoutingDecision

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
KNOWN_KINDS = frozenset({"throttling", "server", "timeout", "content_filter", "client"})


class CircuitBreaker:
    def __init__(self, tier: ModelTier, failure_threshold: int = 5, window_s: float = 60.0,
                 cooldown_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        if failure_threshold < 1 or window_s <= 0 or cooldown_s < 0:
            raise ValueError("failure_threshold ≥ 1, window_s > 0 and cooldown_s ≥ 0 are required")
        self.tier = tier
        self.failure_threshold, self.window_s, self.cooldown_s = failure_threshold, window_s, cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures: deque[float] = deque()     # times of counted failures, oldest first
        self._opened_at: float | None = None
        self._probe_started: float | None = None   # set while the half-open probe is in flight
        self._by_kind: Counter[str] = Counter()
        self._successes = 0
        self._transitions = 0

    # --- state machine (call with the lock held) ---------------------------------------------
    def _to(self, state: str, now: float) -> None:
        if state != self._state:
            self._state = state
            self._transitions += 1
        if state == OPEN:
            self._opened_at = now
        if state == CLOSED:
            self._failures.clear()       # a healthy probe starts a fresh window
            self._opened_at = None
        self._probe_started = None

    def _advance(self, now: float) -> None:
        """Apply the transitions that only depend on time."""
        cutoff = now - self.window_s
        while self._failures and self._failures[0] <= cutoff:
            self._failures.popleft()
        if self._state == OPEN and now - self._opened_at >= self.cooldown_s:
            self._to(HALF_OPEN, now)
        elif (self._state == HALF_OPEN and self._probe_started is not None
              and now - self._probe_started >= max(self.cooldown_s, 1.0)):
            # The probe's caller never reported (crashed, cancelled): without this the tier
            # would stay half-open and refuse everyone forever. Let another probe through.
            self._probe_started = None

    # --- API -----------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        with self._lock:
            self._advance(self._clock())
            return self._state

    def can_execute(self) -> bool:
        """True if a call may go to this tier now. In half-open, the True answer *claims* the
        single probe slot: the caller must report the outcome (record_success/record_failure)."""
        with self._lock:
            now = self._clock()
            self._advance(now)
            if self._state == CLOSED:
                return True
            if self._state == HALF_OPEN and self._probe_started is None:
                self._probe_started = now
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            now = self._clock()
            self._advance(now)
            self._successes += 1
            if self._state == HALF_OPEN:
                self._to(CLOSED, now)
            # In closed, a success does not erase recent failures: the window already forgets
            # them, and resetting would hide a backend that fails every other call.
            # In open, it is a late answer to a call made before opening: no evidence of recovery.

    def record_failure(self, kind: str = "server") -> None:
        """Record a failed call. No argument means "server" (a 5xx), as the runbook's drill uses."""
        if kind not in KNOWN_KINDS:
            raise ValueError(f"unknown failure kind {kind!r} (expected one of {', '.join(sorted(KNOWN_KINDS))})")
        with self._lock:
            now = self._clock()
            self._advance(now)
            self._by_kind[kind] += 1
            if kind not in BackendError.COUNTED:
                if self._state == HALF_OPEN:
                    self._probe_started = None   # probe proved nothing either way; free the slot
                return
            if self._state == HALF_OPEN:
                self._to(OPEN, now)
            elif self._state == CLOSED:
                self._failures.append(now)
                if len(self._failures) >= self.failure_threshold:
                    self._to(OPEN, now)
            # In open: a late failure of a call made before opening; the cooldown is not extended.

    def record_error(self, error: BackendError) -> None:
        self.record_failure(error.kind)

    def retry_after_s(self) -> float:
        """Seconds until this tier may be tried again (0 when it may be tried now)."""
        with self._lock:
            now = self._clock()
            self._advance(now)
            if self._state == OPEN:
                return max(0.0, self._opened_at + self.cooldown_s - now)
            return 0.0

    def snapshot(self) -> dict:
        """Plain-data view for metrics and the admin API."""
        with self._lock:
            now = self._clock()
            self._advance(now)
            return {
                "tier": self.tier.value,
                "state": self._state,
                "failures_in_window": len(self._failures),
                "failure_threshold": self.failure_threshold,
                "window_s": self.window_s,
                "cooldown_s": self.cooldown_s,
                "opened_at": self._opened_at,
                "cooldown_remaining_s": (max(0.0, self._opened_at + self.cooldown_s - now)
                                         if self._state == OPEN else 0.0),
                "probe_in_flight": self._probe_started is not None,
                "failures_by_kind": {k: self._by_kind.get(k, 0) for k in sorted(KNOWN_KINDS)},
                "successes": self._successes,
                "transitions": self._transitions,
            }

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.tier.value}, state={self.state})"


class AllBreakersOpen(Exception):
    """No tier of the decision (primary or fallback) may be called now."""

    def __init__(self, tiers: tuple[ModelTier, ...], retry_after_s: float) -> None:
        names = ", ".join(t.value for t in tiers) or "none"
        super().__init__(f"all circuit breakers open for {names}; retry in {retry_after_s:.1f}s")
        self.tiers, self.retry_after_s = tiers, retry_after_s


class BreakerBoard(Mapping[ModelTier, CircuitBreaker]):
    """One breaker per tier (`board[ModelTier.BEDROCK_SONNET]`); `kw` goes to every breaker."""

    def __init__(self, tiers: Iterable[ModelTier] = tuple(ModelTier), **kw) -> None:
        self._breakers = {ModelTier(t): CircuitBreaker(ModelTier(t), **kw) for t in tiers}

    def __getitem__(self, tier: ModelTier) -> CircuitBreaker:
        return self._breakers[ModelTier(tier)]

    def __iter__(self) -> Iterator[ModelTier]:
        return iter(self._breakers)

    def __len__(self) -> int:
        return len(self._breakers)

    def choose(self, decision: RoutingDecision) -> tuple[ModelTier, ModelTier | None]:
        """First tier of [primary, *fallbacks] whose breaker lets a call through, and the primary
        it fell back from (None when the primary itself is used). Tiers without a breaker on this
        board are not deployed here and are skipped. Stops at the first allowed tier, so it never
        claims a half-open probe slot it will not use."""
        order = (decision.primary_model, *decision.fallbacks)
        for tier in order:
            breaker = self._breakers.get(tier)
            if breaker is not None and breaker.can_execute():
                return tier, (None if tier == decision.primary_model else decision.primary_model)
        waits = [self._breakers[t].retry_after_s() for t in order if t in self._breakers]
        raise AllBreakersOpen(order, min(waits) if waits else 0.0)

    def snapshot(self) -> dict[str, dict]:
        return {t.value: b.snapshot() for t, b in self._breakers.items()}
