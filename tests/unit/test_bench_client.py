"""The bench's virtual users retry as the official openai SDK does, so a 429 is not a retry storm."""
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from gateway_load import Sample, sdk_retry_delay  # noqa: E402


def _sample(status: int, retry_after: float | None = None) -> Sample:
    return Sample(0.0, 0.1, status, 100.0, retry_after_s=retry_after)


def test_a_429_with_retry_after_waits_that_long():
    assert sdk_retry_delay(_sample(429, 1.0), 0, random.Random(1)) == 1.0


def test_without_a_usable_retry_after_it_backs_off_exponentially():
    rng = random.Random(1)
    for n, top in ((0, 0.5), (1, 1.0), (2, 2.0), (5, 8.0)):
        for retry_after in (None, 0.0):
            d = sdk_retry_delay(_sample(503, retry_after), n, rng)
            assert 0.75 * top <= d <= top


def test_a_retry_after_over_120_s_is_not_retried():
    assert sdk_retry_delay(_sample(429, 121.0), 0, random.Random(1)) is None
    assert sdk_retry_delay(_sample(429, 120.0), 0, random.Random(1)) == 120.0


def test_what_the_sdk_does_not_retry():
    rng = random.Random(1)
    assert sdk_retry_delay(_sample(200), 0, rng) is None
    assert sdk_retry_delay(_sample(400), 0, rng) is None
    assert sdk_retry_delay(_sample(-1), 0, rng) is None   # a client timeout
    assert sdk_retry_delay(_sample(0), 0, rng) is None    # a connection error
    assert sdk_retry_delay(_sample(408), 0, rng) is not None
    assert sdk_retry_delay(_sample(500), 0, rng) is not None
