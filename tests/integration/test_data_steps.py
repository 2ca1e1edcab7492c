"""Phase 3's data-store steps against the real moto server (and the sandbox DynamoDB layer in
front of it for global tables): plan, apply, verify, and apply again changes nothing."""
from __future__ import annotations

import boto3
import pytest

from cato_migrate.steps.dynamodb_tables import DynamoDbTables, TablesParams
from tests.dynamodb_layer_fixture import context, dynamodb_layer  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration

TABLES = ["cato-semantic-memory", "cato-working-memory"]


def test_tables_step_is_idempotent_and_verifies_every_region(dynamodb_layer, tmp_path):
    ctx = context(tmp_path, tables_endpoint_url=dynamodb_layer, replica_regions=["us-west-2", "eu-west-1"])
    step, params = DynamoDbTables(), TablesParams(tables=TABLES)
    plan = step.plan(None, params, ctx)
    assert "cato-working-memory (session_id + seq; stream NEW_AND_OLD_IMAGES, PITR, TTL on expires_at)" in plan
    assert "replicas in us-west-2, eu-west-1" in plan
    assert not step.verify(None, params, ctx).ok   # nothing there yet

    first = step.apply(None, params, ctx)["changes"]
    assert first["cato-semantic-memory"][:2] == ["created", "PITR enabled"]
    assert "replica us-west-2" in first["cato-working-memory"] and "TTL on expires_at in eu-west-1" in first["cato-working-memory"]
    v = step.verify(None, params, ctx)
    assert v.ok, v.message
    wm = v.evidence["tables"]["cato-working-memory"]
    assert wm == {"status": "ACTIVE", "stream": "NEW_AND_OLD_IMAGES", "pitr": "ENABLED", "ttl": "expires_at",
                  "replicas": {"us-west-2": "ACTIVE", "eu-west-1": "ACTIVE"}}

    again = step.apply(None, params, ctx)["changes"]
    assert again == {"cato-semantic-memory": [], "cato-working-memory": []}
    assert step.verify(None, params, ctx).ok


def test_tables_verify_fails_when_a_replica_is_gone(dynamodb_layer, tmp_path):
    ctx = context(tmp_path, tables_endpoint_url=dynamodb_layer)
    step, params = DynamoDbTables(), TablesParams(tables=["cato-semantic-memory"])
    step.apply(None, params, ctx)
    # a fresh session, as the adapter uses: the default session may hold credentials (= another moto
    # account in the layer) cached by an earlier test in this process
    east = boto3.session.Session().client("dynamodb", region_name="us-east-1", endpoint_url=dynamodb_layer)
    east.update_table(TableName="cato-semantic-memory", ReplicaUpdates=[{"Delete": {"RegionName": "us-west-2"}}])
    v = step.verify(None, params, ctx)
    assert not v.ok and "replica in us-west-2 is MISSING" in v.message
    assert step.apply(None, params, ctx)["changes"]["cato-semantic-memory"][0] == "replica us-west-2"
    assert step.verify(None, params, ctx).ok


def test_tables_step_also_creates_the_state_store_table_named_by_the_state_url(dynamodb_layer, tmp_path):
    ctx = context(tmp_path, tables_endpoint_url=dynamodb_layer, state_url="dynamodb://team-state?region=us-east-1")
    step, params = DynamoDbTables(), TablesParams(tables=["cato-semantic-memory"])
    assert "team-state (pk + sk; stream NEW_AND_OLD_IMAGES, PITR) in us-east-1, no replicas" in step.plan(None, params, ctx)
    step.apply(None, params, ctx)
    v = step.verify(None, params, ctx)
    assert v.ok and v.evidence["tables"]["team-state"]["replicas"] == {}


def test_unknown_table_is_bad_input(tmp_path):
    from cato_migrate.errors import BadInput

    with pytest.raises(BadInput, match="unknown DynamoDB table"):
        DynamoDbTables().plan(None, TablesParams(tables=["nope"]), context(tmp_path))


# --- OpenSearch Serverless (control plane on moto: metadata only) -----------------------------

def test_opensearch_collection_step_is_idempotent_against_moto(moto_server, tmp_path, monkeypatch):
    from cato_migrate.steps.opensearch_collection import CollectionParams, OpenSearchCollection
    from tests.dynamodb_layer_fixture import reset_moto

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    reset_moto(moto_server)
    ctx = context(tmp_path, opensearch_endpoint_url=moto_server)
    step, params = OpenSearchCollection(), CollectionParams(collection="episodic-memory")
    assert "sandbox placeholder KMS ARN" in step.plan(None, params, ctx)
    v = step.verify(None, params, ctx)
    assert not v.ok and "does not exist" in v.message
    first = step.apply(None, params, ctx)
    assert first["changes"] == ["encryption policy", "collection", "network policy"]
    assert first["endpoint"].startswith("https://") and first["collection_id"]
    v = step.verify(None, params, ctx)
    assert v.ok and v.evidence["status"] == "ACTIVE", v.message
    again = step.apply(None, params, ctx)
    assert again["changes"] == [] and again["collection_id"] == first["collection_id"]


def test_opensearch_step_refuses_an_unreachable_production_collection(tmp_path):
    from cato_migrate.errors import BadInput
    from cato_migrate.steps.opensearch_collection import CollectionParams, OpenSearchCollection

    ctx = context(tmp_path, env="production")
    with pytest.raises(BadInput, match="nothing could reach it"):
        OpenSearchCollection().plan(None, CollectionParams(collection="episodic-memory"), ctx)
    plan = OpenSearchCollection().plan(None, CollectionParams(collection="episodic-memory", vpc_endpoints=["vpce-1"]), ctx)
    assert "AWS-owned key" in plan and "vpce-1" in plan
