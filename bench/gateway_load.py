"""The load side of bench/gateway_compare.py: targets, scenarios, one closed-loop step, CPU accounting.

Pure of sandbox concerns: a `Target` is a URL plus how to shape a request body for it; a
`Scenario` yields the conversations virtual users hold; `run_step` drives `concurrency` virtual
users against one target for warm-up + measure seconds through ONE shared aiohttp session and
returns raw samples. `ProcTree` sums CPU time and RSS over a set of process trees (psutil).
"""
from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parents[1]
HAIKU_BEDROCK_ID = "anthropic.claude-3-haiku-20240307-v1:0"  # what both stacks send the simulator


# --- questions ------------------------------------------------------------------------------

def _corpus() -> tuple[list[str], list[tuple[str, str]]]:
    """Distinct questions from the project's eval sets, and the paraphrase pairs (same answer)."""
    questions: dict[str, None] = {}
    pairs: list[tuple[str, str]] = []
    for path in sorted((ROOT / "evals").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            for key in ("first", "second", "query"):
                if isinstance(row.get(key), str) and 8 <= len(row[key]) <= 300:
                    questions[row[key].strip()] = None
            if row.get("same_answer") is True and path.name == "cache_pairs.jsonl":
                pairs.append((row["first"], row["second"]))
    return list(questions), pairs


class Questions:
    """Unique questions (two different eval questions joined, plus a serial), and popular ones."""

    def __init__(self, seed: int = 7) -> None:
        self.corpus, self.pairs = _corpus()
        self.rng = random.Random(seed)
        self.serial = itertools.count(1)
        self.popular = self.pairs[:20]  # 20 popular context-free questions, each with a paraphrase

    def unique(self) -> str:
        a, b = self.rng.sample(self.corpus, 2)
        return f"{a.rstrip('?.!')}, and separately: {b[0].lower()}{b[1:]} (request {next(self.serial)})"

    def paraphrase(self) -> str:
        first, second = self.rng.choice(self.popular)
        return self.rng.choice((first, second))


# --- scenarios ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Turn:
    text: str
    user: str | None
    turn_no: int  # 1-based within the conversation
    hit_candidate: bool = False


class Scenario:
    """A virtual user's conversations: an endless iterator of conversations (lists of turns)."""

    name = "base"
    stream = False

    def __init__(self, q: Questions) -> None:
        self.q = q

    def conversations(self) -> Iterator[list[Turn]]:
        raise NotImplementedError


class Stateless(Scenario):
    """Unique questions, no `user`: every request a cache miss, no session memory touched."""

    name = "stateless"

    def conversations(self):
        while True:
            yield [Turn(self.q.unique(), None, 1)]


class Sessions(Scenario):
    """Three turns per virtual user under one `user`; each turn resends the whole history."""

    name = "sessions"

    def conversations(self):
        while True:
            user = f"bench-{uuid.uuid4().hex[:12]}"
            yield [Turn(self.q.unique(), user, n) for n in (1, 2, 3)]


class Paraphrase(Scenario):
    """~30% popular context-free questions (or their paraphrase) from new conversations, 70% unique."""

    name = "paraphrase"

    def conversations(self):
        while True:
            if self.q.rng.random() < 0.30:
                yield [Turn(self.q.paraphrase(), None, 1, hit_candidate=True)]
            else:
                yield [Turn(self.q.unique(), None, 1)]


class Streaming(Stateless):
    """Unique questions with `stream: true`: time to first token and to the end of the stream."""

    name = "streaming"
    stream = True


SCENARIOS: dict[str, type[Scenario]] = {c.name: c for c in (Stateless, Sessions, Paraphrase, Streaming)}


# --- targets --------------------------------------------------------------------------------

@dataclass
class Target:
    """One thing under load. `kind` is 'openai' (chat completions) or 'bedrock' (converse)."""

    name: str
    kind: str
    base_url: str
    model: str
    api_key: str
    baseline: str | None  # the direct target its added latency is measured against
    procs: Callable[[], list[int]] = field(default=lambda: [])  # root pids of its process trees

    def request(self, history: list[dict], turn: Turn, stream: bool) -> tuple[str, dict]:
        """URL and JSON body for `history` (OpenAI-style messages, last one the user's)."""
        if self.kind == "bedrock":
            path = "converse-stream" if stream else "converse"
            body = {"messages": [{"role": m["role"], "content": [{"text": m["content"]}]} for m in history],
                    "inferenceConfig": {"maxTokens": 256}}
            return f"{self.base_url}/model/{self.model}/{path}", body
        body = {"model": self.model, "messages": history, "max_tokens": 256}
        if turn.user:
            body["user"] = turn.user
        if stream:
            body["stream"] = True
        return f"{self.base_url}/v1/chat/completions", body


def answer_text(kind: str, payload: dict) -> str:
    try:
        if kind == "bedrock":
            return payload["output"]["message"]["content"][0]["text"]
        return payload["choices"][0]["message"]["content"] or ""
    except (KeyError, IndexError, TypeError):
        return ""


_OPENAI_TOKEN = re.compile(rb'"content":\s*"[^"]')  # the first chunk with a non-empty content delta
_BEDROCK_TOKEN = re.compile(rb"contentBlockDelta")


# --- one closed-loop step -------------------------------------------------------------------

@dataclass
class Sample:
    t_start: float
    t_end: float
    status: int            # HTTP status; 0 = connection error; -1 = client timeout
    latency_ms: float
    ttft_ms: float | None = None
    turn_no: int = 1
    cached: bool | None = None
    tier: str | None = None
    hit_candidate: bool = False
    error: str = ""
    retry_after_s: float | None = None  # the answer's Retry-After header, when it had one


async def _one(session: aiohttp.ClientSession, target: Target, history: list[dict], turn: Turn,
               stream: bool, timeout_s: float) -> tuple[Sample, str]:
    url, body = target.request(history, turn, stream)
    headers = {"Authorization": f"Bearer {target.api_key}"}
    t0 = time.perf_counter()
    ttft = None
    answer, cached, tier, err, retry_after = "", None, None, "", None
    try:
        async with asyncio.timeout(timeout_s):
            async with session.post(url, json=body, headers=headers) as r:
                status = r.status
                retry_after = _retry_after(r.headers.get("Retry-After"))
                if status != 200 or not stream:
                    raw = await r.read()
                    if status == 200:
                        payload = json.loads(raw)
                        answer = answer_text(target.kind, payload)
                        cato = payload.get("cato") or {}
                        cached, tier = cato.get("cached"), cato.get("tier")
                    else:
                        err = raw[:300].decode("utf-8", "replace")
                else:
                    marker = _BEDROCK_TOKEN if target.kind == "bedrock" else _OPENAI_TOKEN
                    done = False
                    async for chunk in r.content.iter_any():
                        if ttft is None and marker.search(chunk):
                            ttft = (time.perf_counter() - t0) * 1000
                        if b"[DONE]" in chunk or b"messageStop" in chunk:
                            done = True
                    if not done and target.kind == "openai":
                        status, err = 598, "stream ended without [DONE]"
    except TimeoutError:
        status, err = -1, f"client timeout after {timeout_s}s"
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        status, err = 0, f"{type(exc).__name__}: {exc}"[:300]
    t1 = time.perf_counter()
    return Sample(t0, t1, status, (t1 - t0) * 1000, ttft, turn.turn_no, cached, tier, turn.hit_candidate, err,
                  retry_after), answer


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


SDK_RETRIED = {408, 409, 429}  # and every 5xx: what openai-python's _should_retry retries


def sdk_retry_delay(sample: Sample, retries_done: int, rng: random.Random) -> float | None:
    """The wait before the next try as the official openai SDK computes it, or None: it would not retry.

    openai-python 3.x (_base_client._should_retry, _calculate_retry_timeout) retries 408, 409, 429 and
    5xx, not client timeouts (its default timeout is 600 s) and not a Retry-After over 120 s; it waits
    Retry-After when that is in (0, 120] s, else backs off 0.5 s * 2^n, at most 8 s, minus up to 25%.
    """
    if not (sample.status in SDK_RETRIED or sample.status >= 500):
        return None
    if sample.retry_after_s is not None and sample.retry_after_s > 120:
        return None
    if sample.retry_after_s is not None and 0 < sample.retry_after_s <= 120:
        return sample.retry_after_s
    return min(0.5 * 2 ** retries_done, 8.0) * (1 - 0.25 * rng.random())


async def run_step(session: aiohttp.ClientSession, target: Target, scenario: Scenario, concurrency: int,
                   warmup_s: float, measure_s: float, timeout_s: float,
                   max_retries: int = 2) -> tuple[list[Sample], float, float, int, int]:
    """Closed loop: `concurrency` virtual users, each sending its next turn when the last answered.

    Each virtual user behaves as a client of the official openai SDK (max_retries 2 by default): a
    429 or 5xx is retried after the SDK's wait (Retry-After when the answer has one), every try a
    sample of its own; when the retries are spent the conversation ends and a new one starts.
    `max_retries=0` is a client that starts over at once (a retry storm: not how Cato's clients behave).

    Returns (samples started inside the measured window, window start, window end, 200s that
    finished inside the window whenever they started: the throughput, all 200s of the step). Requests still in flight at
    the end are awaited (up to the timeout) so that slow answers are counted in the latencies.
    """
    t_begin = time.perf_counter()
    w0, w1 = t_begin + warmup_s, t_begin + warmup_s + measure_s
    samples: list[Sample] = []
    rng = random.Random(concurrency)
    finished: list[float] = []  # end times of every 200, warm-up ones included (throughput)

    async def user() -> None:
        convs = scenario.conversations()
        while time.perf_counter() < w1:
            history: list[dict] = []
            for turn in next(convs):
                if time.perf_counter() >= w1:
                    return
                history.append({"role": "user", "content": turn.text})
                retries = 0
                while True:
                    s, answer = await _one(session, target, history, turn, scenario.stream, timeout_s)
                    if s.t_start >= w0:
                        samples.append(s)
                    delay = sdk_retry_delay(s, retries, rng) if retries < max_retries else None
                    if delay is None or time.perf_counter() + delay >= w1:
                        break
                    retries += 1
                    await asyncio.sleep(delay)
                if s.status == 200:
                    finished.append(s.t_end)
                if s.status != 200:
                    break  # a failed turn ends the conversation, as a client would start over
                history.append({"role": "assistant", "content": answer or "(streamed answer)"})

    await asyncio.gather(*(user() for _ in range(concurrency)))
    done_in_window = sum(1 for t in finished if w0 <= t <= w1)
    return samples, w0, w1, done_in_window, len(finished)


# --- process accounting ---------------------------------------------------------------------

class ProcTree:
    """CPU seconds and RSS summed over the process trees under `roots` (re-read at each snapshot)."""

    def __init__(self, roots: Callable[[], list[int]]) -> None:
        self.roots = roots
        self._cache: dict[int, psutil.Process] = {}

    def processes(self) -> list[psutil.Process]:
        out: dict[int, psutil.Process] = {}
        for pid in self.roots():
            try:
                root = self._cache.get(pid) or psutil.Process(pid)
                for p in [root, *root.children(recursive=True)]:
                    out[p.pid] = self._cache.setdefault(p.pid, p)
            except psutil.Error:
                continue
        return list(out.values())

    def snapshot(self) -> dict[int, tuple[float, int, str]]:
        snap = {}
        for p in self.processes():
            try:
                with p.oneshot():
                    t = p.cpu_times()
                    snap[p.pid] = (t.user + t.system, p.memory_info().rss, p.name())
            except psutil.Error:
                continue
        return snap


def cpu_delta(before: dict, after: dict) -> float:
    """CPU seconds used between two snapshots (processes born in between count from zero)."""
    return sum(cpu - (before[pid][0] if pid in before else 0.0) for pid, (cpu, _, _) in after.items())


def rss_mb(snap: dict) -> float:
    return sum(rss for _, rss, _ in snap.values()) / 2**20


def names(snap: dict) -> dict[str, int]:
    return dict(Counter(name for _, _, name in snap.values()))
