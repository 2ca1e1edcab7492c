"""DynamoDB tables adapter: create, describe, replicate (global tables) and probe items.

boto3 is imported lazily; one client per region, built on first use. Vendor errors become the
project's error tree (adapters/aws.py) with a message that says what to do:

    ResourceNotFoundException  -> NotFound        (the table or replica is not there)
    ResourceInUseException,
    LimitExceededException     -> Conflict        (being created/updated: wait and re-run)
    AccessDenied / Unrecognized-> ExternalError   (credentials/IAM)
    anything else              -> ExternalError
"""
from __future__ import annotations

import time
from typing import Any, Callable

from cato_migrate.adapters.aws import DYNAMODB_CODES, AwsClients
from cato_migrate.core.table_specs import ReplicaStatus, TableSpec, TableStatus
from cato_migrate.errors import Conflict, ExternalError, NotFound


# Too many concurrent control-plane changes on DynamoDB: wait and re-run, like a table being updated.
CODES = {**DYNAMODB_CODES, "LimitExceededException": Conflict}


class DynamoTables:
    def __init__(self, region: str, endpoint_url: str | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.region, self.endpoint_url, self._sleep = region, endpoint_url or None, sleep
        # lazy: `--help` and `status` never pay for boto3; own sessions: the probe's threads build clients
        self._aws = AwsClients(region=region, endpoint_url=self.endpoint_url, max_attempts=6, read_timeout=15,
                               own_session=True)

    def _client(self, region: str | None) -> Any:
        return self._aws.get("dynamodb", region=region)

    def _where(self, table: str, region: str | None) -> str:
        at = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"DynamoDB table {table!r} in {region or self.region}{at}"

    def _call(self, op: str, table: str, region: str | None = None, **kwargs: Any) -> dict:
        with self._aws.errors(
                f"{self._where(table, region)}: {op}", codes=CODES,
                hints={NotFound: "create it with the week-9 step: `cato-migrate phase run 3`",
                       Conflict: "another change is in progress; wait a minute and re-run (the step is idempotent)"},
                credentials_hint="check the AWS credentials and that the role may use dynamodb:* on the table",
                hint="throttling and 5xx were retried; look at the AWS status page or re-run",
                unreachable_hint="check the network/endpoint (`cato-migrate sandbox up` for local)"):
            return getattr(self._client(region), op)(**kwargs)

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

