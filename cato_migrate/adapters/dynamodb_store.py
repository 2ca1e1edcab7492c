"""DynamoDB state store: one table, PAY_PER_REQUEST, same contract as the SQLite store.

Key design (pk, sk are both strings; records are JSON in `body`):

    pk = env#<env>#journal   sk = <seq, 20 digits>   seq (N), key (S), body (S)
    pk = env#<env>#audit     sk = <seq, 20 digits>   seq (N), body (S)
    pk = env#<env>#lock      sk = lock               token (S), rvn (S), heartbeat (N), expires (N), body (S)
    pk = env#<env>#seq       sk = journal | audit    n (N): the sequence counter

Sequence numbers come from an atomic ADD on the counter item; the record is then written with
`attribute_not_exists(pk)`, and a collision (a counter that was reset, or a backend whose ADD is
not atomic, like moto) allocates again, so a record is never overwritten. Every lock write is
conditional (or, for a preempt, returns what it replaced) and reads are strongly consistent; a
takeover is conditional on the record version (token, rvn, heartbeat) the contender watched.

The table is never created on use (a mistyped name would silently start an empty journal and a
second lock): `cato-migrate state init` creates it (`DynamoStateStore(..., create=True)`).
"""
from __future__ import annotations

import json
import time
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

from cato_migrate.adapters import aws
from cato_migrate.core.state import AcquireResult, AuditEntry, JournalEntry, LockLease
from cato_migrate.errors import BadInput, ExternalError

_SEQ_WIDTH = 20
_MAX_SEQ_TRIES = 50


def _n(value: float | int) -> dict[str, str]:
    # repr() is the shortest string that round-trips a float, and keeps float order.
    return {"N": str(Decimal(repr(float(value)))) if isinstance(value, float) else str(int(value))}


class _Refused(Exception):
    """A conditional write's condition did not hold; carries the item that was there."""

    def __init__(self, item: dict | None):
        super().__init__("conditional check failed")
        self.item = item


class DynamoStateStore:
    def __init__(self, table_name: str, *, region: str, endpoint_url: str | None = None,
                 create: bool = False):
        self.table, self.region, self.endpoint_url = table_name, region, endpoint_url
        self.created = False
        self._server_time: float | None = None
        # One session per store: boto3's default session is not thread-safe to build clients from.
        # boto3 is imported here, lazily: it keeps CLI start-up fast for SQLite users.
        self._client = aws.client("dynamodb", region=region, endpoint_url=endpoint_url, max_attempts=6,
                                  read_timeout=15, own_session=True)
        self._ensure_table(create)

    # ---- plumbing -------------------------------------------------------------------------

    def _where(self) -> str:
        at = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"DynamoDB table '{self.table}' in {self.region}{at}"

    def _missing(self) -> BadInput:
        at = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return BadInput(
            f"the state store's table {self.table} does not exist in region {self.region}{at}; "
            "create it with `cato-migrate state init`; nothing was changed",
            hint="if the name is mistyped, fix state_url (CATO_STATE_URL); otherwise run "
                 "`cato-migrate state init` once (it creates the table: pk S HASH, sk S RANGE, PAY_PER_REQUEST)",
            details={"table": self.table, "region": self.region})

    def _note_time(self, response: dict) -> None:
        date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
        if date:
            try:
                self._server_time = parsedate_to_datetime(date).timestamp()
            except (TypeError, ValueError):
                pass

    def _call(self, op: str, **kwargs: Any) -> dict:
        def special(f: aws.AwsFailure) -> Exception | None:
            self._note_time(f.response)
            if f.code == "ConditionalCheckFailedException":
                return _Refused(f.response.get("Item"))
            if f.code == "ResourceNotFoundException":
                return self._missing()
            return None

        with aws.aws_errors(
                f"{self._where()}: {op}", special=special, codes=aws.DYNAMODB_CODES, endpoint=self.endpoint_url,
                read_timeout=15, max_attempts=6, details={"table": self.table, "region": self.region, "operation": op},
                hint="throttling and 5xx errors were already retried 5 times; check AWS credentials and "
                     "IAM permissions (dynamodb:DescribeTable/GetItem/PutItem/UpdateItem/DeleteItem/Query/"
                     "CreateTable), the region, and the AWS Health Dashboard; then run the command again",
                unreachable_hint="check network access to the DynamoDB endpoint (CATO_DYNAMODB_ENDPOINT_URL if "
                                 "set), AWS credentials (AWS_PROFILE or the instance role) and the region; then "
                                 "run again"):
            response = getattr(self._client, op)(**kwargs)
        self._note_time(response)
        return response

    def _ensure_table(self, create: bool) -> None:
        try:
            desc = self._call("describe_table", TableName=self.table)["Table"]
        except BadInput:
            if not create:
                raise
            try:
                self._call("create_table", TableName=self.table, BillingMode="PAY_PER_REQUEST",
                           AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                 {"AttributeName": "sk", "AttributeType": "S"}],
                           KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                      {"AttributeName": "sk", "KeyType": "RANGE"}])
                self.created = True
            except ExternalError as exc:
                if exc.details.get("code") != "ResourceInUseException":  # created concurrently: fine
                    raise
            desc = {"TableStatus": "CREATING"}
        if desc.get("TableStatus") != "ACTIVE":
            from botocore.exceptions import WaiterError

            try:
                self._client.get_waiter("table_exists").wait(
                    TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
            except WaiterError as exc:
                raise ExternalError(f"{self._where()} did not become ACTIVE within 2 minutes: {exc}",
                                    hint="check the table in the AWS console, then run again") from exc
            desc = self._call("describe_table", TableName=self.table)["Table"]
        self.status = desc.get("TableStatus", "")
        keys = {k["AttributeName"]: k["KeyType"] for k in desc.get("KeySchema", [])}
        if keys and keys != {"pk": "HASH", "sk": "RANGE"}:
            raise BadInput(f"{self._where()} exists but has key schema {keys}, not pk (HASH) + sk (RANGE)",
                           hint="point CATO_STATE_URL at a table made for cato-migrate")

    def _append(self, env: str, kind: str, attrs: dict[str, dict], body: Any) -> int:
        for _ in range(_MAX_SEQ_TRIES):
            seq = int(self._call(
                "update_item", TableName=self.table,
                Key={"pk": {"S": f"env#{env}#seq"}, "sk": {"S": kind}},
                UpdateExpression="ADD n :one", ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValues="UPDATED_NEW")["Attributes"]["n"]["N"])
            item = {"pk": {"S": f"env#{env}#{kind}"}, "sk": {"S": str(seq).zfill(_SEQ_WIDTH)},
                    "seq": {"N": str(seq)}, **attrs,
                    "body": {"S": body.model_copy(update={"seq": seq}).model_dump_json()}}
            try:
                self._call("put_item", TableName=self.table, Item=item,
                           ConditionExpression="attribute_not_exists(pk)")
                return seq
            except _Refused:
                continue  # this seq is taken: allocate another
        raise ExternalError(f"{self._where()}: could not allocate a {kind} sequence number "
                            f"after {_MAX_SEQ_TRIES} tries", hint=f"check the env#{env}#seq counter item")

    def _query(self, pk: str, *, forward: bool = True, limit: int | None = None,
               **extra: Any) -> list[dict]:
        items: list[dict] = []
        kwargs: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True,
                                  "ScanIndexForward": forward, "KeyConditionExpression": "pk = :pk",
                                  **extra}
        kwargs.setdefault("ExpressionAttributeValues", {})[":pk"] = {"S": pk}
        while True:
            if limit is not None:
                kwargs["Limit"] = limit - len(items)
            page = self._call("query", **kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page or (limit is not None and len(items) >= limit):
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @staticmethod
    def _lease(item: dict | None) -> LockLease | None:
        if not item or "body" not in item:
            return None
        data = json.loads(item["body"]["S"])
        for f in ("heartbeat", "expires"):  # renew_lock updates these attributes and rvn only
            if f in item:
                data[f] = float(Decimal(item[f]["N"]))
        if "rvn" in item:
            data["rvn"] = item["rvn"]["S"]
        return LockLease.model_validate(data)

    def _lock_key(self, env: str) -> dict:
        return {"pk": {"S": f"env#{env}#lock"}, "sk": {"S": "lock"}}

    # ---- StateStore -----------------------------------------------------------------------

    def append_journal(self, entry: JournalEntry) -> JournalEntry:
        seq = self._append(entry.env, "journal", {"key": {"S": entry.key}}, entry)
        return entry.model_copy(update={"seq": seq})

    def journal(self, env: str, key: str | None = None) -> list[JournalEntry]:
        extra: dict[str, Any] = {}
        if key is not None:
            extra = {"FilterExpression": "#k = :k", "ExpressionAttributeNames": {"#k": "key"},
                     "ExpressionAttributeValues": {":k": {"S": key}}}
        return [JournalEntry.model_validate_json(i["body"]["S"])
                for i in self._query(f"env#{env}#journal", **extra)]

    def append_audit(self, entry: AuditEntry) -> AuditEntry:
        return entry.model_copy(update={"seq": self._append(entry.env, "audit", {}, entry)})

    def audit(self, env: str, limit: int = 100) -> list[AuditEntry]:
        if limit == 0:
            return []
        items = self._query(f"env#{env}#audit", forward=False, limit=limit if limit > 0 else None)
        return [AuditEntry.model_validate_json(i["body"]["S"]) for i in reversed(items)]

    def read_lock(self, env: str) -> LockLease | None:
        got = self._call("get_item", TableName=self.table, Key=self._lock_key(env), ConsistentRead=True)
        return self._lease(got.get("Item"))

    def acquire_lock(self, lease: LockLease, *, preempt: bool = False,
                     replace: LockLease | None = None) -> AcquireResult:
        item = {**self._lock_key(lease.env), "token": {"S": lease.token}, "heartbeat": _n(lease.heartbeat),
                "expires": _n(lease.expires), "body": {"S": lease.model_dump_json()}}
        if lease.rvn:
            item["rvn"] = {"S": lease.rvn}
        kwargs: dict[str, Any] = {"TableName": self.table, "Item": item, "ReturnValues": "ALL_OLD"}
        if not preempt:
            cond, names, values = "attribute_not_exists(pk)", {}, {}
            if replace is not None:
                # exactly the version the contender watched (records from before rvn: their heartbeat)
                names = {"#token": "token"}
                values = {":t": {"S": replace.token}, ":h": _n(float(replace.heartbeat))}
                same = "#token = :t AND heartbeat = :h AND "
                if replace.rvn:
                    same += "rvn = :r"
                    values[":r"] = {"S": replace.rvn}
                else:
                    same += "attribute_not_exists(rvn)"
                cond = f"{cond} OR ({same})"
                kwargs.update(ExpressionAttributeNames=names, ExpressionAttributeValues=values)
            kwargs.update(ConditionExpression=cond, ReturnValuesOnConditionCheckFailure="ALL_OLD")
        try:
            old = self._call("put_item", **kwargs).get("Attributes")
        except _Refused as refused:
            there = self._lease(refused.item) or self.read_lock(lease.env)
            if there is not None and there.token == lease.token:
                # Our first try was written but its answer was lost; botocore's retry then failed
                # the condition against our own lease. It is ours; what it replaced is unknown here.
                return AcquireResult(acquired=True, lease=there, previous=None)
            return AcquireResult(acquired=False, previous=there)
        return AcquireResult(acquired=True, lease=lease, previous=self._lease(old))

    def renew_lock(self, env: str, token: str, *, rvn: str, heartbeat: float, expires: float) -> bool:
        try:
            self._call("update_item", TableName=self.table, Key=self._lock_key(env),
                       UpdateExpression="SET heartbeat = :h, expires = :e, rvn = :r",
                       ConditionExpression="#token = :t", ExpressionAttributeNames={"#token": "token"},
                       ExpressionAttributeValues={":h": _n(float(heartbeat)), ":e": _n(float(expires)),
                                                  ":r": {"S": rvn}, ":t": {"S": token}})
        except _Refused:
            return False
        return True

    def release_lock(self, env: str, token: str | None) -> LockLease | None:
        kwargs: dict[str, Any] = {"TableName": self.table, "Key": self._lock_key(env), "ReturnValues": "ALL_OLD"}
        if token is not None:
            kwargs.update(ConditionExpression="#token = :t", ExpressionAttributeNames={"#token": "token"},
                          ExpressionAttributeValues={":t": {"S": token}})
        try:
            return self._lease(self._call("delete_item", **kwargs).get("Attributes"))
        except _Refused:
            return None

    def store_time(self) -> float:
        return self._server_time if self._server_time is not None else time.time()

    def describe(self) -> dict:
        return {"store": "dynamodb", "table": self.table, "region": self.region,
                "endpoint_url": self.endpoint_url or "", "created": self.created, "status": self.status}
