"""Point reads of semantic memory: through DAX in production, an in-process item cache locally.

`ItemCache` reproduces DAX's item cache semantics in process: a GetItem by key is answered from
the cache while the entry is younger than `ttl_s` (DAX's item TTL, 5 minutes by default), a miss
reads DynamoDB (eventually consistent, as DAX does) and fills the cache, and a write made through
the same client updates the cached item (write-through). Writes made elsewhere are seen after the
TTL, as with DAX. It is NOT DAX: no cluster, no network hop; the sub-ms figure it gives on the
sandbox is the local path's, and the read-latency check labels it so.

`ReadPath` says which path `SemanticMemory.get_fact` uses: "dax" (an amazon-dax-client client
handed in as the read client), "item-cache" (this cache in front of DynamoDB) or "dynamodb"
(every read a GetItem).
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Hashable

_MISSING = object()


class ItemCache:
    def __init__(self, ttl_s: float = 300.0, max_items: int = 100_000,
                 clock: Callable[[], float] = time.monotonic):
        self.ttl_s, self.max_items, self._clock = ttl_s, max_items, clock
        self._items: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> tuple[bool, Any]:
        """(True, item) on a fresh hit (item may be None: a cached "no such item"), else (False, None)."""
        with self._lock:
            entry = self._items.get(key, _MISSING)
            if entry is not _MISSING and self._clock() - entry[0] < self.ttl_s:
                self._items.move_to_end(key)
                self.hits += 1
                return True, entry[1]
            if entry is not _MISSING:
                del self._items[key]
            self.misses += 1
            return False, None

    def put(self, key: Hashable, item: Any) -> None:
        with self._lock:
            self._items[key] = (self._clock(), item)
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)   # least recently used first

    def invalidate(self, key: Hashable) -> None:
        with self._lock:
            self._items.pop(key, None)

    def stats(self) -> dict:
        with self._lock:
            return {"items": len(self._items), "hits": self.hits, "misses": self.misses, "ttl_s": self.ttl_s}


@dataclass(frozen=True)
class ReadPath:
    name: str        # "dax" | "item-cache" | "dynamodb"
    label: str       # what a reader of the figure must know about what was measured
    client: Any = None           # the read client (a DAX client), or None for the table's own
    cache: ItemCache | None = None


def make_read_path(*, dax_endpoint: str | None, item_cache: bool, ttl_s: float, region: str,
                   endpoint_url: str | None) -> ReadPath:
    if dax_endpoint:
        try:
            from amazondax import AmazonDaxClient  # lazy: only where DAX is configured
        except ImportError as exc:
            raise RuntimeError("reads.dax_endpoint is set but the amazon-dax-client package is not installed: "
                               "`pip install amazon-dax-client` in the orchestrator image, or unset "
                               "reads.dax_endpoint to read DynamoDB directly") from exc
        client = AmazonDaxClient(endpoint_url=dax_endpoint, region_name=region)
        return ReadPath("dax", f"DAX cluster {dax_endpoint} (GetItem through the DAX client)", client=client)
    where = f"DynamoDB at {endpoint_url}" if endpoint_url else f"DynamoDB in {region}"
    if item_cache:
        return ReadPath("item-cache", f"local path: in-process item cache (DAX item-cache semantics: write-through, "
                                      f"TTL {ttl_s:g}s) in front of {where}, not DAX", cache=ItemCache(ttl_s))
    return ReadPath("dynamodb", f"direct GetItem on {where}, no cache")
