"""Semantic memory: facts by domain, with provenance, in DynamoDB; contradictions supersede.

Table design (string keys)::

    domain       (HASH)   "ai", "billing", ...
    fact_id      (RANGE)  "<created_at in µs, 16 digits>-<8 hex>": a Query returns a domain's
                          facts oldest first
    subject, subject_key  as given / normalised (lower case, single spaces) for comparisons
    text, source          the fact and its provenance (interaction id, session id, ...)
    created_at (N)
    superseded_by, superseded_at (N)   set once, when a newer fact contradicts this one
    extra_json            Fact.extra as JSON, when not empty

`put_fact` compares the new fact with the current (not superseded) facts of the same domain and
subject through a `ContradictionDetector`:

* identical text, or "entailment" (an old fact already says it): nothing is written, the
  existing fact is returned, so repeating a fact never duplicates it;
* "contradiction": in ONE transaction the new fact is put and each contradicted fact is marked
  superseded (superseded_by = new id, superseded_at = now) on condition that it is still
  current. If a concurrent writer got there first the transaction is cancelled and put_fact
  re-reads and decides again, so two contradicting facts are never both left current.
"""
from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import replace
from typing import Any, Callable

from orchestrator.ports import Fact

from ._dynamo import (ConditionFailed, MemoryStoreError, backoff, call, close_client, ensure_table, get_n, get_s,
                      make_client, n, query_all, s)
from .contradiction import ContradictionDetector, LexicalContradictionDetector, normalise
from .item_cache import ReadPath


def subject_key(subject: str) -> str:
    return re.sub(r"\s+", " ", subject.strip().lower())


def new_fact_id(created_at: float) -> str:
    return f"{int(created_at * 1_000_000):016d}-{uuid.uuid4().hex[:8]}"


def fact_to_item(fact: Fact) -> dict[str, dict]:
    item = {"domain": s(fact.domain), "fact_id": s(fact.fact_id), "subject": s(fact.subject),
            "subject_key": s(subject_key(fact.subject)), "text": s(fact.text),
            "source": s(fact.source), "created_at": n(fact.created_at)}
    if fact.superseded_by:
        item["superseded_by"] = s(fact.superseded_by)
    if fact.superseded_at is not None:
        item["superseded_at"] = n(fact.superseded_at)
    if fact.extra:
        item["extra_json"] = s(json.dumps(fact.extra, sort_keys=True, default=str))
    return item


def item_to_fact(item: dict[str, dict]) -> Fact:
    extra = get_s(item, "extra_json")
    return Fact(domain=get_s(item, "domain", ""), subject=get_s(item, "subject", ""),
                text=get_s(item, "text", ""), source=get_s(item, "source", ""),
                created_at=get_n(item, "created_at", 0.0), fact_id=get_s(item, "fact_id", ""),
                superseded_by=get_s(item, "superseded_by"), superseded_at=get_n(item, "superseded_at"),
                extra=json.loads(extra) if extra else {})


class SemanticMemory:
    def __init__(self, table: str, region: str, endpoint_url: str | None = None, *,
                 detector: ContradictionDetector | None = None, client: Any = None,
                 clock: Callable[[], float] = time.time, max_retries: int = 5,
                 read_path: ReadPath | None = None):
        self.table, self.clock, self.max_retries = table, clock, max_retries
        self.detector = detector or LexicalContradictionDetector()
        self._client, self._region, self._endpoint_url = client, region, endpoint_url
        self.read_path = read_path or ReadPath("dynamodb", "direct GetItem, no cache")

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client(self._region, self._endpoint_url)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await close_client(self._client)

    async def ensure_table(self) -> None:
        await ensure_table(self.client, self.table, "domain", "fact_id")

    async def get_fact(self, domain: str, fact_id: str) -> Fact | None:
        """One fact by key, through the read path (DAX, the item cache, or DynamoDB): the hot
        read DAX is for. Eventually consistent, like a DAX item-cache read."""
        key = (self.table, domain, fact_id)
        cache = self.read_path.cache
        if cache is not None:
            hit, item = cache.get(key)
            if hit:
                return item_to_fact(item) if item else None
        client = self.read_path.client or self.client
        resp = await call(client, "get_item", TableName=self.table,
                          Key={"domain": s(domain), "fact_id": s(fact_id)})
        item = resp.get("Item")
        if cache is not None:
            cache.put(key, item)
        return item_to_fact(item) if item else None

    async def delete_fact(self, domain: str, fact_id: str) -> None:
        """Remove a fact outright (probe clean-up; contradictions supersede instead)."""
        await call(self.client, "delete_item", TableName=self.table,
                   Key={"domain": s(domain), "fact_id": s(fact_id)})
        self._cached(domain, fact_id, None, invalidate=True)

    def _cached(self, domain: str, fact_id: str, item: dict | None, *, invalidate: bool = False) -> None:
        """Write-through: keep the item cache in step with our own writes."""
        cache = self.read_path.cache
        if cache is not None:
            key = (self.table, domain, fact_id)
            cache.invalidate(key) if invalidate else cache.put(key, item)

    async def facts_by_domain(self, domain: str, include_superseded: bool = False) -> list[Fact]:
        kwargs: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True,
                                  "KeyConditionExpression": "#d = :d",
                                  "ExpressionAttributeNames": {"#d": "domain"},
                                  "ExpressionAttributeValues": {":d": s(domain)}}
        if not include_superseded:
            kwargs["FilterExpression"] = "attribute_not_exists(superseded_by)"
        return [item_to_fact(i) for i in await query_all(self.client, **kwargs)]

    async def current_facts(self, domain: str, subject: str) -> list[Fact]:
        items = await query_all(
            self.client, TableName=self.table, ConsistentRead=True,
            KeyConditionExpression="#d = :d",
            FilterExpression="attribute_not_exists(superseded_by) AND subject_key = :k",
            ExpressionAttributeNames={"#d": "domain"},
            ExpressionAttributeValues={":d": s(domain), ":k": s(subject_key(subject))})
        return [item_to_fact(i) for i in items]

    async def put_fact(self, fact: Fact) -> Fact:
        """Store `fact` (see the module docstring); returns the stored fact, with its id, or the
        existing fact that already says the same thing."""
        if not fact.domain or not fact.subject.strip() or not fact.text.strip():
            raise ValueError("a fact needs a domain, a subject and a text")
        created = fact.created_at or self.clock()
        new = replace(fact, created_at=created, fact_id=fact.fact_id or new_fact_id(created),
                      superseded_by=None, superseded_at=None)
        for attempt in range(self.max_retries):
            if attempt:
                await backoff(attempt)
            current = await self.current_facts(new.domain, new.subject)
            same = next((f for f in current if f.fact_id == new.fact_id
                         or normalise(f.text) == normalise(new.text)), None)
            if same is not None:
                return same
            contradicted: list[Fact] = []
            for old in current:
                rel = await self.detector.relation(old.text, new.text)
                if rel == "entailment":
                    return old
                if rel == "contradiction":
                    contradicted.append(old)
            try:
                await self._write(new, contradicted)
                return new
            except ConditionFailed:
                continue  # someone changed these facts meanwhile: look again
        raise MemoryStoreError(f"could not store fact in {new.domain!r}/{new.subject!r}: "
                               f"{self.max_retries} concurrent-write conflicts in a row")

    async def _write(self, new: Fact, contradicted: list[Fact]) -> None:
        put = {"Put": {"TableName": self.table, "Item": fact_to_item(new),
                       "ConditionExpression": "attribute_not_exists(fact_id)"}}
        if not contradicted:
            await call(self.client, "put_item", **put["Put"])
            self._cached(new.domain, new.fact_id, put["Put"]["Item"])
            return
        now = self.clock()
        updates = [{"Update": {
            "TableName": self.table,
            "Key": {"domain": s(old.domain), "fact_id": s(old.fact_id)},
            "UpdateExpression": "SET superseded_by = :new, superseded_at = :at",
            "ConditionExpression": "attribute_exists(fact_id) AND attribute_not_exists(superseded_by)",
            "ExpressionAttributeValues": {":new": s(new.fact_id), ":at": n(now)}}}
            for old in contradicted]
        await call(self.client, "transact_write_items", TransactItems=[put, *updates])
        self._cached(new.domain, new.fact_id, put["Put"]["Item"])
        for old in contradicted:  # superseded: the next read fetches the new state
            self._cached(old.domain, old.fact_id, None, invalidate=True)
