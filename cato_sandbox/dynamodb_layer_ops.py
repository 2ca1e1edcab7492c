"""What the sandbox DynamoDB layer does to the requests it sees (see `dynamodb_layer.py`).

moto 5.2.5 keeps one independent DynamoDB per region and ignores `ReplicaUpdates`. Here:

* `UpdateTable` with `ReplicaUpdates`: Create makes the same table (keys, billing, indexes,
  NEW_AND_OLD_IMAGES stream) in the new region in moto, copies the existing items into it and
  records the replica; Delete drops the replica table. Other UpdateTable fields go on to moto.
* `DescribeTable` in any member region lists the OTHER regions under `Replicas`
  (`ReplicaStatus: ACTIVE`) with `GlobalTableVersion: 2019.11.21`, as AWS does.
* PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems accepted by moto for a
  global table are queued for the other regions (`dynamodb_layer_replication.Replicator`).
* `DeleteTable` removes that region from the global table.

Replicas are kept per (account, table name); the account is the `x-moto-account-id` header or
the access key, the region the one in the request's SigV4 credential scope (moto reads it there).
"""
from __future__ import annotations

import json
import re
import threading
from typing import Any

from cato_sandbox.appconfig_moto import MotoForwarder, Reply
from cato_sandbox.dynamodb_layer_replication import Change, Replicator
from cato_sandbox.layer_faults import FaultBook

TARGET_PREFIX = "DynamoDB_20120810."
GLOBAL_TABLE_VERSION = "2019.11.21"
_SCOPE = re.compile(r"(Credential=[^/,\s]+/\d{8}/)([a-z0-9-]+)(/dynamodb/)")
_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


class DynamoError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def reply(self) -> Reply:
        return Reply(self.status, json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{self.code}",
                                              "message": self.message}).encode(),
                     {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": self.code})


def region_of(headers: Any, default: str = "us-east-1") -> str:
    m = _SCOPE.search(headers.get("Authorization", "") or "")
    return m.group(2) if m else default


def account_of(headers: Any) -> str:
    acct = headers.get("x-moto-account-id")
    if acct:
        return acct
    m = re.search(r"Credential=([^/,\s]+)/", headers.get("Authorization", "") or "")
    return m.group(1) if m else "default"


def caller_headers(headers: Any) -> dict:
    """The writer's identity, kept for replication calls (no User-Agent: moto reads a region there)."""
    out = {"Authorization": headers.get("Authorization", "")}
    if headers.get("x-moto-account-id"):
        out["x-moto-account-id"] = headers["x-moto-account-id"]
    return out


def json_reply(status: int, body: dict) -> Reply:
    return Reply(status, json.dumps(body).encode(), {"Content-Type": "application/x-amz-json-1.0"})


class DynamoLayer:
    def __init__(self, moto_url: str, lag_s: float = 0.05):
        self.fwd = MotoForwarder(moto_url)
        self.replicator = Replicator(self.call, lag_s)
        self.faults = FaultBook("json-1.0", "com.amazonaws.dynamodb.v20120810")  # /_cato/faults
        self._lock = threading.Lock()
        self._groups: dict[tuple[str, str], set[str]] = {}     # (account, table) -> member regions
        self._keys: dict[tuple[str, str, str], list[str]] = {}  # (account, region, table) -> key names

    # -- moto ---------------------------------------------------------------------------------
    def call(self, headers: dict, region: str, op: str, payload: dict) -> tuple[int, dict]:
        """One DynamoDB request to moto as the caller, in `region` (rewritten credential scope)."""
        h = {k: v for k, v in headers.items() if k.lower() not in ("user-agent", "x-amz-target", "content-type")}
        h["Authorization"] = _SCOPE.sub(lambda m: m.group(1) + region + m.group(3), h.get("Authorization", "")) \
            or f"AWS4-HMAC-SHA256 Credential=sandbox/20260101/{region}/dynamodb/aws4_request, SignedHeaders=host, Signature=0"
        h["X-Amz-Target"] = TARGET_PREFIX + op
        h["Content-Type"] = "application/x-amz-json-1.0"
        r = self.fwd.moto("POST", "/", h, json.dumps(payload).encode(), verbatim=True)
        try:
            return r.status, json.loads(r.body or b"{}")
        except ValueError:
            return r.status, {"raw": r.body[:200].decode(errors="replace")}

    def _checked(self, headers: dict, region: str, op: str, payload: dict) -> dict:
        status, body = self.call(headers, region, op, payload)
        if status != 200:
            code = str(body.get("__type", "InternalServerError")).rsplit("#", 1)[-1]
            raise DynamoError(code, f"{op} in {region}: {body.get('message') or body.get('Message') or body}", status)
        return body

    def reset(self) -> None:
        with self._lock:
            self._groups.clear()
            self._keys.clear()
        self.replicator.clear()

    # -- dispatch -----------------------------------------------------------------------------
    def handle(self, headers: Any, body: bytes) -> Reply | None:
        """The layer's own answer to a DynamoDB request, or None to forward it to moto as is."""
        op = (headers.get("X-Amz-Target") or "").removeprefix(TARGET_PREFIX)
        if op not in ("UpdateTable", "DescribeTable", "DeleteTable", *_WRITES):
            return None
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return None  # let moto answer the malformed request
        try:
            if op == "UpdateTable" and payload.get("ReplicaUpdates"):
                return self._update_replicas(headers, payload)
            return self._forward_and_follow(op, headers, body, payload)
        except DynamoError as e:
            return e.reply()

    def _forward_and_follow(self, op: str, headers: Any, body: bytes, payload: dict) -> Reply:
        r = self.fwd.moto("POST", "/", headers, body)
        if r.status != 200:
            return r
        account, region = account_of(headers), region_of(headers)
        if op == "DescribeTable":
            data = json.loads(r.body)
            self._add_replicas(account, region, data.get("Table", {}))
            return json_reply(200, data)
        if op == "DeleteTable":
            self._leave(account, payload.get("TableName", ""), region)
        elif op in _WRITES:
            for table, key in self._written_keys(op, headers, region, payload):
                self._replicate(headers, account, region, table, key)
        return r

    # -- replicas -----------------------------------------------------------------------------
    def members(self, account: str, table: str) -> set[str]:
        with self._lock:
            return set(self._groups.get((account, table), ()))

    def _add_replicas(self, account: str, region: str, desc: dict) -> None:
        others = sorted(self.members(account, desc.get("TableName", "")) - {region})
        if others:
            desc["Replicas"] = [{"RegionName": r, "ReplicaStatus": "ACTIVE"} for r in others]
            desc["GlobalTableVersion"] = GLOBAL_TABLE_VERSION

    def _leave(self, account: str, table: str, region: str) -> None:
        with self._lock:
            group = self._groups.get((account, table))
            if group is not None:
                group.discard(region)
                if len(group) <= 1:
                    self._groups.pop((account, table), None)
            self._keys.pop((account, region, table), None)

    def _update_replicas(self, headers: Any, payload: dict) -> Reply:
        h, account, region = caller_headers(headers), account_of(headers), region_of(headers)
        table = payload.get("TableName", "")
        desc = self._checked(h, region, "DescribeTable", {"TableName": table})["Table"]
        for update in payload["ReplicaUpdates"]:
            if "Create" in update:
                self._create_replica(h, account, region, desc, update["Create"]["RegionName"])
            elif "Delete" in update:
                target = update["Delete"]["RegionName"]
                if target not in self.members(account, table):
                    raise DynamoError("ValidationException", f"Replica in {target} does not exist for {table}")
                self._checked(h, target, "DeleteTable", {"TableName": table})
                self._leave(account, table, target)
        rest = {k: v for k, v in payload.items() if k not in ("ReplicaUpdates",)}
        if len(rest) > 1:  # more than TableName: let moto apply the other changes
            self._checked(h, region, "UpdateTable", rest)
        desc = self._checked(h, region, "DescribeTable", {"TableName": table})["Table"]
        self._add_replicas(account, region, desc)
        return json_reply(200, {"TableDescription": desc})

    def _create_replica(self, h: dict, account: str, region: str, desc: dict, target: str) -> None:
        table = desc["TableName"]
        if target == region:
            raise DynamoError("ValidationException", f"Cannot add a replica of {table} in its own region {region}")
        if target in self.members(account, table):
            raise DynamoError("ValidationException", f"Replica in {target} already exists for {table}")
        stream = desc.get("StreamSpecification") or {}
        if stream.get("StreamEnabled") and stream.get("StreamViewType") != "NEW_AND_OLD_IMAGES":
            raise DynamoError("ValidationException", "A global table needs StreamViewType NEW_AND_OLD_IMAGES, "
                              f"{table} has {stream.get('StreamViewType')}")
        if not stream.get("StreamEnabled"):
            self._checked(h, region, "UpdateTable", {"TableName": table, "StreamSpecification": {
                "StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}})
        status, _ = self.call(h, target, "DescribeTable", {"TableName": table})
        if status == 200:
            raise DynamoError("ValidationException", f"Table {table} already exists in {target}: delete it "
                              "before adding a replica there")
        self._checked(h, target, "CreateTable", replica_create_request(desc))
        self._backfill(h, region, target, table)
        with self._lock:
            self._groups.setdefault((account, table), {region}).add(target)

    def _backfill(self, h: dict, source: str, target: str, table: str) -> None:
        """Copy the items already in the table, as DynamoDB does when a replica is added."""
        start = None
        while True:
            page = self._checked(h, source, "Scan", {"TableName": table, "ConsistentRead": True,
                                                     **({"ExclusiveStartKey": start} if start else {})})
            items = page.get("Items", [])
            # BatchWriteItem, 25 at a time: AWS answers UpdateTable at once and backfills behind it;
            # here the backfill runs inside the call, so it must stay short even for thousands of
            # items, or the client's read timeout fires and its retry of UpdateTable finds the table.
            for i in range(0, len(items), 25):
                pending = [{"PutRequest": {"Item": item}} for item in items[i:i + 25]]
                while pending:
                    out = self._checked(h, target, "BatchWriteItem", {"RequestItems": {table: pending}})
                    pending = (out.get("UnprocessedItems") or {}).get(table, [])
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    # -- item writes ---------------------------------------------------------------------------
    def _key_names(self, h: dict, account: str, region: str, table: str) -> list[str]:
        cached = self._keys.get((account, region, table))
        if cached is None:
            desc = self._checked(h, region, "DescribeTable", {"TableName": table})["Table"]
            cached = [k["AttributeName"] for k in desc["KeySchema"]]
            with self._lock:
                self._keys[(account, region, table)] = cached
        return cached

    def _written_keys(self, op: str, headers: Any, region: str, payload: dict) -> list[tuple[str, dict]]:
        """(table, key) of every item the accepted request wrote, for global tables only."""
        account, h = account_of(headers), caller_headers(headers)
        writes: list[tuple[str, dict | None, dict | None]] = []   # (table, key, item)
        if op in ("UpdateItem", "DeleteItem"):
            writes.append((payload.get("TableName", ""), payload.get("Key"), None))
        elif op == "PutItem":
            writes.append((payload.get("TableName", ""), None, payload.get("Item")))
        elif op == "BatchWriteItem":
            for table, requests in (payload.get("RequestItems") or {}).items():
                for req in requests:
                    if "PutRequest" in req:
                        writes.append((table, None, req["PutRequest"].get("Item")))
                    elif "DeleteRequest" in req:
                        writes.append((table, req["DeleteRequest"].get("Key"), None))
        else:  # TransactWriteItems
            for entry in payload.get("TransactItems") or []:
                for kind in ("Put", "Update", "Delete"):
                    if kind in entry:
                        e = entry[kind]
                        writes.append((e.get("TableName", ""), e.get("Key"), e.get("Item")))
        out = []
        for table, key, item in writes:
            if len(self.members(account, table)) < 2:
                continue
            if key is None and item is not None:
                key = {k: item[k] for k in self._key_names(h, account, region, table) if k in item}
            if key:
                out.append((table, key))
        return out

    def _replicate(self, headers: Any, account: str, region: str, table: str, key: dict) -> None:
        targets = tuple(sorted(self.members(account, table) - {region}))
        if targets:
            self.replicator.enqueue(Change(caller_headers(headers), table, key, region, targets,
                                           self.replicator._clock()))


def replica_create_request(desc: dict) -> dict:
    """A CreateTable request for a replica of the table `desc` describes."""
    billing = (desc.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    req: dict[str, Any] = {"TableName": desc["TableName"], "KeySchema": desc["KeySchema"],
                           "AttributeDefinitions": desc["AttributeDefinitions"], "BillingMode": billing,
                           "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}}
    throughput = desc.get("ProvisionedThroughput") or {}
    if billing == "PROVISIONED":
        req["ProvisionedThroughput"] = {"ReadCapacityUnits": throughput.get("ReadCapacityUnits") or 5,
                                        "WriteCapacityUnits": throughput.get("WriteCapacityUnits") or 5}
    gsis = []
    for g in desc.get("GlobalSecondaryIndexes") or []:
        gsi = {"IndexName": g["IndexName"], "KeySchema": g["KeySchema"], "Projection": g["Projection"]}
        if billing == "PROVISIONED":
            t = g.get("ProvisionedThroughput") or {}
            gsi["ProvisionedThroughput"] = {"ReadCapacityUnits": t.get("ReadCapacityUnits") or 5,
                                            "WriteCapacityUnits": t.get("WriteCapacityUnits") or 5}
        gsis.append(gsi)
    if gsis:
        req["GlobalSecondaryIndexes"] = gsis
    lsis = [{"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]}
            for i in desc.get("LocalSecondaryIndexes") or []]
    if lsis:
        req["LocalSecondaryIndexes"] = lsis
    return req
