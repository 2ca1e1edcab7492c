"""`EpisodicIndex` on OpenSearch k-NN (production).

No OpenSearch runs on the development machine or in CI, so this adapter is tested only through
its pure request builders (`index_body`, `episode_document`, `knn_query`, `parse_hits`); the
calls themselves are thin. opensearch-py is imported lazily, on first use.

Index design: one document per episode, `_id` = episode id::

    vector    knn_vector (HNSW, cosinesimil; lucene engine by default)
    text      text          the interaction as embedded
    user_id   keyword       what `filter_user` filters on (an efficient k-NN filter)
    metadata  object, enabled=false: stored in _source, not indexed

Scores are OpenSearch's: for cosinesimil they rise with cosine similarity but are not the
cosine itself, so compare them with one another, not with `EmbeddedEpisodicIndex`'s.
"""
from __future__ import annotations

import asyncio
from typing import Any, Sequence

Hit = tuple[str, float, dict]


def index_body(dim: int, *, engine: str = "lucene", space_type: str = "cosinesimil",
               m: int = 16, ef_construction: int = 128, shards: int = 1, replicas: int = 1) -> dict:
    return {
        "settings": {"index": {"knn": True, "number_of_shards": shards, "number_of_replicas": replicas}},
        "mappings": {"properties": {
            "vector": {"type": "knn_vector", "dimension": dim,
                       "method": {"name": "hnsw", "engine": engine, "space_type": space_type,
                                  "parameters": {"m": m, "ef_construction": ef_construction}}},
            "text": {"type": "text"},
            "user_id": {"type": "keyword"},
            "metadata": {"type": "object", "enabled": False},
        }},
    }


def episode_document(text: str, vector: Sequence[float], metadata: dict) -> dict:
    doc = {"vector": [float(x) for x in vector], "text": text, "metadata": dict(metadata)}
    if metadata.get("user_id") is not None:
        doc["user_id"] = str(metadata["user_id"])
    return doc


def knn_query(vector: Sequence[float], k: int = 5, filter_user: str | None = None) -> dict:
    knn: dict[str, Any] = {"vector": [float(x) for x in vector], "k": k}
    if filter_user is not None:
        knn["filter"] = {"bool": {"filter": [{"term": {"user_id": filter_user}}]}}
    return {"size": k, "_source": {"excludes": ["vector"]}, "query": {"knn": {"vector": knn}}}


def parse_hits(response: dict) -> list[Hit]:
    return [(h["_id"], float(h["_score"]), dict(h.get("_source", {}).get("metadata", {})))
            for h in response.get("hits", {}).get("hits", [])]


class OpenSearchEpisodicIndex:
    def __init__(self, host: str, index: str, *, dim: int, port: int = 443, use_ssl: bool = True,
                 http_auth: Any = None, engine: str = "lucene", refresh: bool = False, client: Any = None,
                 **client_kwargs: Any):
        self.index, self.dim, self.engine, self.refresh = index, dim, engine, refresh
        self._client = client
        self._conn = dict(hosts=[{"host": host, "port": port}], use_ssl=use_ssl,
                          verify_certs=use_ssl, http_auth=http_auth, **client_kwargs)

    @property
    def client(self) -> Any:
        if self._client is None:
            from opensearchpy import OpenSearch  # lazy
            self._client = OpenSearch(**self._conn)
        return self._client

    async def ensure_index(self) -> None:
        if not await asyncio.to_thread(self.client.indices.exists, index=self.index):
            await asyncio.to_thread(self.client.indices.create, index=self.index,
                                    body=index_body(self.dim, engine=self.engine))

    async def add(self, episode_id: str, text: str, vector: Sequence[float], metadata: dict) -> None:
        if len(vector) != self.dim:
            raise ValueError(f"vector has {len(vector)} dimensions, index has {self.dim}")
        await asyncio.to_thread(self.client.index, index=self.index, id=episode_id,
                                body=episode_document(text, vector, metadata), refresh=self.refresh)

    async def search(self, vector: Sequence[float], k: int = 5, filter_user: str | None = None) -> list[Hit]:
        response = await asyncio.to_thread(self.client.search, index=self.index,
                                           body=knn_query(vector, k, filter_user))
        return parse_hits(response)
