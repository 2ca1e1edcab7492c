"""Writes behind the reply are bounded: at most `max_running` at once, in order per key, and a full
backlog makes the replica's admission answer 429 (OpenAI's shape, Retry-After) at once."""
from __future__ import annotations

import asyncio

import pytest

from orchestrator.api_errors import ApiError
from orchestrator.serving import Admission
from orchestrator.write_behind import WriteBehind


def test_no_more_than_max_running_writes_at_once_and_each_key_in_order():
    async def scenario():
        writes, running, peak, order = WriteBehind(max_running=3), 0, 0, []

        def write(key, i):
            async def run():
                nonlocal running, peak
                running += 1
                peak = max(peak, running)
                await asyncio.sleep(0.01)
                order.append((key, i))
                running -= 1
            return run

        for i in range(5):
            for key in ("a", "b", "c", "d"):
                writes.submit(key, write(key, i))
        assert writes.pending == 20
        await writes.flush()
        return peak, order

    peak, order = asyncio.run(scenario())
    assert peak == 3
    for key in "abcd":
        assert [i for k, i in order if k == key] == [0, 1, 2, 3, 4]


def test_a_full_backlog_refuses_new_requests_until_it_drains():
    async def scenario():
        writes = WriteBehind(max_running=1, max_pending=2)
        admission = Admission(limit=100, retry_after_s=2, writes=writes)
        gate = asyncio.Event()

        async def held():
            await gate.wait()

        admission.acquire()
        admission.release()
        writes.submit("s1", held)
        writes.submit("s2", held)
        assert writes.full
        with pytest.raises(ApiError) as refused:
            admission.acquire()
        gate.set()
        await writes.flush()
        admission.acquire()   # drained: admitted again
        return refused.value, admission.in_flight

    error, in_flight = asyncio.run(scenario())
    assert error.status == 429 and error.headers == {"Retry-After": "2"}
    assert "2 session and cache writes waiting" in error.message
    assert in_flight == 1


class _Cache:
    embeddings_waiting = 0


def test_a_long_embedding_queue_refuses_new_requests_at_once():
    cache = _Cache()
    admission = Admission(limit=100, retry_after_s=1, cache=cache, max_embeddings_waiting=128)
    cache.embeddings_waiting = 127
    admission.acquire()
    cache.embeddings_waiting = 128
    with pytest.raises(ApiError) as refused:
        admission.acquire()
    assert refused.value.status == 429 and "128 cache lookups waiting" in refused.value.message
    assert admission.in_flight == 1   # the refused one was never admitted
    assert Admission(limit=100, retry_after_s=1, cache=cache, max_embeddings_waiting=0).acquire() is None  # 0: off


def test_the_embedding_queue_counts_texts_waiting_for_a_batch():
    import threading

    import numpy as np

    from orchestrator.cache.batcher import EmbeddingBatcher

    gate = threading.Event()   # holds the model call, as a busy embedding would

    def embed(texts):
        gate.wait(5)
        return np.zeros((len(texts), 4), dtype=np.float32)

    async def scenario():
        batcher = EmbeddingBatcher(embed, max_batch=2, workers=1)
        tasks = [asyncio.ensure_future(batcher.embed(f"t{i}")) for i in range(7)]
        await asyncio.sleep(0.05)
        waiting = batcher.waiting          # one batch of 2 in the model, 5 waiting
        gate.set()
        await asyncio.gather(*tasks)
        return waiting, batcher.waiting

    assert asyncio.run(scenario()) == (5, 0)


def test_the_embedding_skips_lookups_whose_request_was_cancelled():
    """A request whose client went away (Serve cancels it) is not embedded: under overload that
    work only delayed the requests still waiting. Planted: without the filter, all 7 texts reach the model."""
    import asyncio
    import threading

    import numpy as np

    from orchestrator.cache.batcher import EmbeddingBatcher

    gate, embedded = threading.Event(), []

    def embed(texts):
        gate.wait(5)
        embedded.extend(texts)
        return np.zeros((len(texts), 4), dtype=np.float32)

    async def scenario():
        batcher = EmbeddingBatcher(embed, max_batch=2, workers=1)
        tasks = [asyncio.ensure_future(batcher.embed(f"t{i}")) for i in range(7)]
        await asyncio.sleep(0.05)          # t0, t1 in the model; t2..t6 waiting
        for t in tasks[2:6]:
            t.cancel()                     # their clients went away
        gate.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        return batcher.waiting

    assert asyncio.run(scenario()) == 0
    assert embedded == ["t0", "t1", "t6"]
