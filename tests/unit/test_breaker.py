import threading

import pytest

from orchestrator.breaker import AllBreakersOpen, BreakerBoard, CircuitBreaker
from orchestrator.ports import BackendError, ModelTier, RoutingDecision

HAIKU, SONNET, SHADOW = ModelTier.BEDROCK_HAIKU, ModelTier.BEDROCK_SONNET, ModelTier.SHADOW_SELF


class Clock:
    """Monotonic stand-in: tests move time explicitly."""

    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock():
    return Clock()


def breaker(clock, **kw):
    return CircuitBreaker(SONNET, clock=clock, **kw)


def trip(b: CircuitBreaker, n: int = 5, kind: str = "server") -> None:
    for _ in range(n):
        b.record_failure(kind)


def decision(primary, fallbacks):
    return RoutingDecision(primary_model=primary, fallbacks=fallbacks, reason="test")


# --- opening -------------------------------------------------------------------------------------

def test_opens_after_five_counted_failures_within_the_window(clock):
    b = breaker(clock)
    for kind in ("server", "timeout", "throttling", "server"):
        b.record_failure(kind)
        clock.t += 5
    assert b.state == "closed" and b.can_execute()
    b.record_failure("timeout")
    assert b.state == "open" and not b.can_execute()
    snap = b.snapshot()
    assert snap["failures_in_window"] == 5 and snap["opened_at"] == clock.t and snap["transitions"] == 1


def test_runbook_drill_record_failure_without_argument_counts_as_server(clock):
    b = breaker(clock)
    for _ in range(5):
        b.record_failure()
    assert not b.can_execute()
    assert b.snapshot()["failures_by_kind"]["server"] == 5


def test_failures_spread_beyond_the_window_do_not_open_it(clock):
    b = breaker(clock, window_s=60.0)
    for _ in range(10):
        b.record_failure("server")
        clock.t += 20          # at most 3 failures are ever within any 60 s window
    assert b.state == "closed" and b.can_execute()
    assert b.snapshot()["failures_in_window"] <= 3


def test_failure_exactly_window_old_has_left_the_window(clock):
    b = breaker(clock, window_s=60.0)
    trip(b, 4)
    clock.t += 60
    b.record_failure()
    assert b.state == "closed"


@pytest.mark.parametrize("kind", ["content_filter", "client"])
def test_content_filter_and_client_errors_never_open_it(clock, kind):
    b = breaker(clock)
    trip(b, 50, kind)
    assert b.state == "closed" and b.can_execute()
    snap = b.snapshot()
    assert snap["failures_by_kind"][kind] == 50 and snap["failures_in_window"] == 0


def test_record_error_uses_the_backend_errors_kind(clock):
    b = breaker(clock)
    for _ in range(5):
        b.record_error(BackendError("client", "400 bad request", tier=SONNET, status=400))
    assert b.state == "closed"
    for _ in range(5):
        b.record_error(BackendError("throttling", "429", tier=SONNET, status=429))
    assert b.state == "open"


def test_unknown_kind_is_rejected(clock):
    with pytest.raises(ValueError, match="unknown failure kind"):
        breaker(clock).record_failure("oops")


def test_successes_in_closed_state_do_not_hide_a_flapping_backend(clock):
    b = breaker(clock)
    for _ in range(5):
        b.record_failure()
        b.record_success()
    assert b.state == "open"


def test_late_failure_while_open_does_not_extend_the_cooldown(clock):
    b = breaker(clock, cooldown_s=30)
    trip(b)
    clock.t += 20
    b.record_failure()
    clock.t += 10
    assert b.state == "half_open"


# --- half-open probe ----------------------------------------------------------------------------

def test_goes_half_open_after_cooldown_and_lets_exactly_one_probe_through(clock):
    b = breaker(clock, cooldown_s=30)
    trip(b)
    clock.t += 29.9
    assert b.state == "open" and not b.can_execute()
    assert b.retry_after_s() == pytest.approx(0.1)
    clock.t += 0.1
    assert b.state == "half_open"
    assert b.can_execute() is True          # the probe
    assert b.can_execute() is False         # others wait while it is in flight
    assert b.can_execute() is False
    assert b.snapshot()["probe_in_flight"] is True


def test_probe_success_closes_it(clock):
    b = breaker(clock)
    trip(b)
    clock.t += 30
    assert b.can_execute()
    b.record_success()
    assert b.state == "closed"
    assert all(b.can_execute() for _ in range(10))
    snap = b.snapshot()
    assert snap["failures_in_window"] == 0 and snap["opened_at"] is None
    assert snap["transitions"] == 3         # closed->open->half_open->closed


def test_probe_failure_reopens_with_a_fresh_cooldown(clock):
    b = breaker(clock, cooldown_s=30)
    trip(b)
    clock.t += 30
    assert b.can_execute()
    b.record_failure("timeout")
    assert b.state == "open" and b.snapshot()["opened_at"] == clock.t
    clock.t += 29
    assert not b.can_execute()
    clock.t += 1
    assert b.state == "half_open" and b.can_execute()


def test_one_counted_failure_in_half_open_is_enough_to_reopen(clock):
    b = breaker(clock)
    trip(b)
    clock.t += 30
    b.can_execute()
    b.record_failure("throttling")
    assert b.state == "open"


def test_non_counted_probe_failure_frees_the_slot_without_deciding(clock):
    b = breaker(clock)
    trip(b)
    clock.t += 30
    assert b.can_execute()
    b.record_failure("content_filter")
    assert b.state == "half_open"
    assert b.can_execute()                  # next caller may probe


def test_a_probe_that_never_reports_does_not_wedge_the_tier(clock):
    b = breaker(clock, cooldown_s=30)
    trip(b)
    clock.t += 30
    assert b.can_execute()
    clock.t += 10
    assert not b.can_execute()
    clock.t += 20                           # the probe's lease (one cooldown) has run out
    assert b.can_execute()


def test_concurrent_callers_in_half_open_get_a_single_probe(clock):
    b = breaker(clock)
    trip(b)
    clock.t += 30
    results: list[bool] = []
    start = threading.Barrier(16)

    def call():
        start.wait()
        results.append(b.can_execute())

    threads = [threading.Thread(target=call) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1


def test_snapshot_is_plain_data(clock):
    snap = breaker(clock).snapshot()
    assert snap["tier"] == "bedrock_sonnet" and snap["state"] == "closed"
    assert set(snap["failures_by_kind"]) == {"throttling", "server", "timeout", "content_filter", "client"}
    assert {"failures_in_window", "opened_at", "transitions", "cooldown_remaining_s"} <= set(snap)


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError):
        CircuitBreaker(SONNET, failure_threshold=0)


# --- board --------------------------------------------------------------------------------------

@pytest.fixture
def board(clock):
    return BreakerBoard(tuple(ModelTier), clock=clock)


def test_board_is_a_mapping_of_tier_to_breaker(board):
    assert set(board) == set(ModelTier) and len(board) == 3
    assert board[SONNET].tier is SONNET
    assert board["bedrock_haiku"] is board[HAIKU]


def test_week7_drill_sonnet_open_falls_back_to_haiku(board):
    for _ in range(5):
        board[SONNET].record_failure()
    assert not board[SONNET].can_execute()
    assert board.choose(decision(SONNET, (HAIKU,))) == (HAIKU, SONNET)


def test_primary_healthy_means_no_fallback(board):
    assert board.choose(decision(SONNET, (HAIKU,))) == (SONNET, None)


def test_shadow_self_falls_back_to_sonnet_then_haiku(board):
    d = decision(SHADOW, (SONNET, HAIKU))
    trip(board[SHADOW])
    assert board.choose(d) == (SONNET, SHADOW)
    trip(board[SONNET])
    assert board.choose(d) == (HAIKU, SHADOW)


def test_haiku_falls_back_up_to_sonnet(board):
    trip(board[HAIKU])
    assert board.choose(decision(HAIKU, (SONNET,))) == (SONNET, HAIKU)


def test_all_open_raises_with_retry_hint(board, clock):
    trip(board[SONNET])
    clock.t += 10
    trip(board[HAIKU])
    with pytest.raises(AllBreakersOpen) as e:
        board.choose(decision(SONNET, (HAIKU,)))
    assert e.value.tiers == (SONNET, HAIKU)
    assert e.value.retry_after_s == pytest.approx(20.0)   # Sonnet's cooldown ends first


def test_choose_does_not_claim_a_probe_it_will_not_use(board, clock):
    trip(board[HAIKU])
    clock.t += 30                               # Haiku half-open, probe slot free
    assert board.choose(decision(SONNET, (HAIKU,))) == (SONNET, None)
    assert board[HAIKU].snapshot()["probe_in_flight"] is False


def test_tiers_absent_from_the_board_are_skipped(clock):
    board = BreakerBoard([HAIKU, SONNET], clock=clock)
    assert board.choose(decision(SHADOW, (SONNET, HAIKU))) == (SONNET, SHADOW)


def test_board_passes_settings_to_every_breaker(clock):
    board = BreakerBoard([HAIKU, SONNET], failure_threshold=2, clock=clock)
    trip(board[HAIKU], 2)
    assert board[HAIKU].state == "open" and board[SONNET].failure_threshold == 2
    assert board.snapshot()["bedrock_haiku"]["state"] == "open"
