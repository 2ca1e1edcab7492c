"""The sandbox DynamoDB layer gives moto global tables at the wire level, and the exit check
"DynamoDB replicating across regions" passes on it, FAILS when replication is stopped (the
planted fault) and passes again once it resumes. Real moto server over HTTP, real boto3."""
from __future__ import annotations

import json
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

from cato_migrate.checks.dynamodb_replication import DynamoDbReplication, ReplicationParams
from cato_migrate.core.table_specs import KNOWN_TABLES
from cato_migrate.steps.dynamodb_tables import ensure_table
from tests.dynamodb_layer_fixture import context, dynamodb_layer, wait_for  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration


def client(url: str, region: str):
    return boto3.client("dynamodb", region_name=region, endpoint_url=url)


def admin(url: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(url + "/admin/replication", method="POST" if body is not None else "GET",
                                 data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def make_table(c, name="t"):
    c.create_table(TableName=name, KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                   AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")



def test_replica_is_listed_in_both_regions_and_existing_items_are_copied(dynamodb_layer):
    east, west = client(dynamodb_layer, "us-east-1"), client(dynamodb_layer, "us-west-2")
    make_table(east)
    east.put_item(TableName="t", Item={"k": {"S": "before"}})
    desc = east.update_table(TableName="t", ReplicaUpdates=[{"Create": {"RegionName": "us-west-2"}}])["TableDescription"]
    assert desc["Replicas"] == [{"RegionName": "us-west-2", "ReplicaStatus": "ACTIVE"}]
    assert desc["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert west.describe_table(TableName="t")["Table"]["Replicas"] == [{"RegionName": "us-east-1", "ReplicaStatus": "ACTIVE"}]
    assert west.get_item(TableName="t", Key={"k": {"S": "before"}})["Item"] == {"k": {"S": "before"}}
    with pytest.raises(ClientError) as err:  # adding the same replica twice is refused, as AWS does
        east.update_table(TableName="t", ReplicaUpdates=[{"Create": {"RegionName": "us-west-2"}}])
    assert err.value.response["Error"]["Code"] == "ValidationException"
    # a plain table has no Replicas at all (moto is untouched for it)
    make_table(east, "plain")
    assert "Replicas" not in east.describe_table(TableName="plain")["Table"]


def test_every_kind_of_item_write_replicates_after_a_lag_both_ways(dynamodb_layer):
    east, west = client(dynamodb_layer, "us-east-1"), client(dynamodb_layer, "us-west-2")
    make_table(east)
    east.update_table(TableName="t", ReplicaUpdates=[{"Create": {"RegionName": "us-west-2"}}])
    admin(dynamodb_layer, {"lag_ms": 300})
    east.put_item(TableName="t", Item={"k": {"S": "a"}, "v": {"N": "1"}})
    assert "Item" not in west.get_item(TableName="t", Key={"k": {"S": "a"}})  # not yet: the lag
    assert wait_for(lambda: "Item" in west.get_item(TableName="t", Key={"k": {"S": "a"}}))
    assert admin(dynamodb_layer)["last_lag_ms"] >= 300
    admin(dynamodb_layer, {"lag_ms": 10})
    east.update_item(TableName="t", Key={"k": {"S": "a"}}, UpdateExpression="SET v = :v",
                     ExpressionAttributeValues={":v": {"N": "2"}})
    east.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": {"k": {"S": "b"}}}}]})
    east.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": {"k": {"S": "c"}}}}])
    west.put_item(TableName="t", Item={"k": {"S": "from-west"}})
    east.delete_item(TableName="t", Key={"k": {"S": "b"}})

    def converged():
        w = sorted(i["k"]["S"] for i in west.scan(TableName="t")["Items"])
        e = sorted(i["k"]["S"] for i in east.scan(TableName="t")["Items"])
        return w == e == ["a", "c", "from-west"]
    assert wait_for(converged)
    assert west.get_item(TableName="t", Key={"k": {"S": "a"}})["Item"]["v"] == {"N": "2"}
    # the replicas can converge before the queue drains (each change copies the item's current
    # state, so a later change of the same item may still be queued or being applied)
    assert wait_for(lambda: admin(dynamodb_layer)["pending"] == 0)
    stats = admin(dynamodb_layer)
    assert stats["failed"] == 0 and stats["applied"] >= 6
    assert stats["global_tables"][0]["regions"] == ["us-east-1", "us-west-2"]


def _check(tmp_path, url, **params):
    ctx = context(tmp_path, tables_endpoint_url=url, region="us-east-1", replica_regions=["us-west-2"])
    return DynamoDbReplication().evaluate(None, ReplicationParams(**params), ctx), ctx


def test_replication_check_passes_fails_when_replication_stops_and_passes_after_resume(dynamodb_layer, tmp_path):
    ctx = context(tmp_path, tables_endpoint_url=dynamodb_layer)
    tables = ctx.services.tables()
    ensure_table(tables, KNOWN_TABLES["cato-semantic-memory"], ["us-west-2"], 30)

    ok, _ = _check(tmp_path, dynamodb_layer)
    assert ok.status == "pass", ok.message
    assert 0 < ok.measured < 5000 and ok.evidence["lag_ms"]["us-west-2"] == ok.measured

    admin(dynamodb_layer, {"paused": True})   # the planted fault: replication stopped
    bad, _ = _check(tmp_path, dynamodb_layer, timeout_s=0.5)
    assert bad.status == "fail" and "not seen in us-west-2" in bad.message and bad.measured is None
    probe_key = {"domain": {"S": bad.evidence["probe_key"]}, "fact_id": {"S": bad.evidence["probe_key"]}}
    assert tables.get_item("cato-semantic-memory", probe_key) is None  # cleaned up in the primary
    assert admin(dynamodb_layer)["pending"] >= 2   # the probe's put and delete wait in the queue

    admin(dynamodb_layer, {"paused": False})
    again, _ = _check(tmp_path, dynamodb_layer)
    assert again.status == "pass", again.message
    assert wait_for(lambda: admin(dynamodb_layer)["pending"] == 0)
    assert tables.get_item("cato-semantic-memory", probe_key, "us-west-2") is None  # the delete replicated too


def test_replication_check_waits_for_a_missing_table_and_fails_without_a_replica(dynamodb_layer, tmp_path):
    waiting, ctx = _check(tmp_path, dynamodb_layer)
    assert waiting.status == "waiting" and "does not exist" in waiting.message
    spec = KNOWN_TABLES["cato-semantic-memory"]
    ensure_table(ctx.services.tables(), spec, [], 30)   # created, but never replicated
    no_replica, _ = _check(tmp_path, dynamodb_layer)
    assert no_replica.status == "fail" and "no replica in us-west-2" in no_replica.message


def test_admin_endpoint_rejects_bad_input(dynamodb_layer):
    req = urllib.request.Request(dynamodb_layer + "/admin/replication", method="POST", data=b'{"paused": "yes"}')
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=5)
    assert err.value.code == 400
