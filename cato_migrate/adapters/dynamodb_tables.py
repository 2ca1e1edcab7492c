"""DynamoDB tables adapter: create, describe, replicate (global tables) and probe items.

boto3 is imported lazily; one client per region, built on first use. Vendor errors become the
project's error tree with a message that says what to do:

    ResourceNotFoundException  -> NotFound        (the table or replica is not there)
    ResourceInUseException     -> Conflict        (being created/updated: wait and re-run)
    AccessDenied / Unrecognized-> ExternalError   (credentials/IAM)
    anything else              -> ExternalError
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

from cato_migrate.core.table_specs import ReplicaStatus, TableSpec, TableStatus
from cato_migrate.errors import Conflict, ExternalError, NotFound


class DynamoTables:
    def __init__(self, region: str, endpoint_url: str | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.region, self.endpoint_url, self._sleep = region, endpoint_url or None, sleep
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _client(self, region: str | None) -> Any:
        region = region or self.region
        with self._lock:
            if region not in self._clients:
                import boto3  # lazy: `--help` and `status` never pay for it
                from botocore.config import Config

                self._clients[region] = boto3.session.Session().client(
                    "dynamodb", region_name=region, endpoint_url=self.endpoint_url,
                    config=Config(retries={"mode": "standard", "max_attempts": 5},
                                  connect_timeout=5, read_timeout=15))
            return self._clients[region]

    def _where(self, table: str, region: str | None) -> str:
        at = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"DynamoDB table {table!r} in {region or self.region}{at}"

    def _call(self, op: str, table: str, region: str | None = None, **kwargs: Any) -> dict:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._client(region), op)(**kwargs)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            code, msg = err.get("Code", ""), err.get("Message", str(exc))
            where = self._where(table, region)
            if code == "ResourceNotFoundException":
                raise NotFound(f"{where}: not found ({op}): {msg}",
                               hint="create it with the week-9 step: `cato-migrate phase run 3`") from None
            if code in ("ResourceInUseException", "LimitExceededException"):
                raise Conflict(f"{where} is busy ({op}): {msg}",
                               hint="another change is in progress; wait a minute and re-run (the step is idempotent)") from None
            if code in ("AccessDeniedException", "UnrecognizedClientException", "ExpiredTokenException"):
                raise ExternalError(f"{where}: {op} refused: {code}: {msg}",
                                    hint="check the AWS credentials and that the role may use dynamodb:* on the table") from None
            raise ExternalError(f"{where}: {op} failed: {code}: {msg}",
                                hint="throttling and 5xx were retried; look at the AWS status page or re-run") from None
        except BotoCoreError as exc:
            raise ExternalError(f"{self._where(table, region)}: {op} could not reach DynamoDB: {exc}",
                                hint="check the network/endpoint (`cato-migrate sandbox up` for local)") from None

    # -- tables -------------------------------------------------------------------------------
    def describe(self, table: str, region: str | None = None) -> TableStatus:
        region = region or self.region
        try:
            desc = self._call("describe_table", table, region, TableName=table)["Table"]
        except NotFound:
            return TableStatus(name=table, region=region, status="MISSING")
        stream = desc.get("StreamSpecification") or {}
        ttl = self._call("describe_time_to_live", table, region, TableName=table).get("TimeToLiveDescription", {})
        return TableStatus(
            name=table, region=region, status=desc.get("TableStatus", "UNKNOWN"),
            stream_view=stream.get("StreamViewType") if stream.get("StreamEnabled") else None,
            pitr=self._pitr(table, region),
            ttl_attribute=ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") else None,
            replicas=tuple(ReplicaStatus(region=r["RegionName"], status=r.get("ReplicaStatus", "UNKNOWN"))
                           for r in desc.get("Replicas") or []))

    def _pitr(self, table: str, region: str) -> str | None:
        try:
            d = self._call("describe_continuous_backups", table, region, TableName=table)
        except ExternalError:
            return None  # an endpoint without the backups API: PITR cannot be checked there
        return d.get("ContinuousBackupsDescription", {}).get("PointInTimeRecoveryDescription", {}) \
            .get("PointInTimeRecoveryStatus")

    def create(self, spec: TableSpec, region: str | None = None) -> bool:
        """Create the table (on demand, streams on); False if it already existed."""
        try:
            self._call("create_table", spec.name, region, TableName=spec.name, KeySchema=spec.key_schema(),
                       AttributeDefinitions=spec.attribute_definitions(), BillingMode="PAY_PER_REQUEST",
                       StreamSpecification={"StreamEnabled": True, "StreamViewType": spec.stream_view})
            return True
        except Conflict:
            return False  # ResourceInUseException: it exists (or is being created)

    def enable_stream(self, spec: TableSpec, region: str | None = None) -> None:
        self._call("update_table", spec.name, region, TableName=spec.name,
                   StreamSpecification={"StreamEnabled": True, "StreamViewType": spec.stream_view})

    def enable_pitr(self, table: str, region: str | None = None) -> None:
        self._call("update_continuous_backups", table, region, TableName=table,
                   PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})

    def enable_ttl(self, table: str, attribute: str, region: str | None = None) -> None:
        self._call("update_time_to_live", table, region, TableName=table,
                   TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute})

    def add_replica(self, table: str, replica_region: str, region: str | None = None) -> None:
        self._call("update_table", table, region, TableName=table,
                   ReplicaUpdates=[{"Create": {"RegionName": replica_region}}])

    def wait(self, table: str, ready: Callable[[TableStatus], bool], timeout_s: float,
             region: str | None = None, what: str = "ACTIVE") -> TableStatus:
        """Poll DescribeTable until `ready` (global-table changes take minutes on AWS)."""
        deadline = time.monotonic() + timeout_s
        while True:
            status = self.describe(table, region)
            if ready(status):
                return status
            if time.monotonic() >= deadline:
                raise ExternalError(f"{self._where(table, region)} not {what} after {timeout_s:g}s "
                                    f"(status {status.status}, replicas {[(r.region, r.status) for r in status.replicas]})",
                                    hint="look at the table in the DynamoDB console; re-run the step to keep waiting")
            self._sleep(1.0 if self.endpoint_url is None else 0.1)

    # -- items (the replication probe) --------------------------------------------------------
    def put_item(self, table: str, item: dict, region: str | None = None) -> None:
        self._call("put_item", table, region, TableName=table, Item=item)

    def get_item(self, table: str, key: dict, region: str | None = None, consistent: bool = True) -> dict | None:
        return self._call("get_item", table, region, TableName=table, Key=key, ConsistentRead=consistent).get("Item")

    def delete_item(self, table: str, key: dict, region: str | None = None) -> None:
        self._call("delete_item", table, region, TableName=table, Key=key)

    def key_names(self, table: str, region: str | None = None) -> list[str]:
        desc = self._call("describe_table", table, region, TableName=table)["Table"]
        return [k["AttributeName"] for k in desc["KeySchema"]]

