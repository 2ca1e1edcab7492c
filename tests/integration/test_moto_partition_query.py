"""cato_sandbox/moto_main.py: the sandbox's moto answers every Query exactly as moto does, while a
Query without an index reads only its partition (moto alone walks the whole table)."""
from __future__ import annotations

import os
import subprocess
import sys

import boto3
import pytest

from tests.integration.conftest import _moto_command, free_port, stop_process, wait_http

pytestmark = pytest.mark.integration
KEYS = dict(KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"},
                                  {"AttributeName": "g", "AttributeType": "S"}],
            GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                     "Projection": {"ProjectionType": "ALL"}}],
            BillingMode="PAY_PER_REQUEST")
QUERIES = [
    dict(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p1"}}),
    dict(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p1"}}, ScanIndexForward=False,
         Limit=2, ConsistentRead=True),
    dict(KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
         ExpressionAttributeValues={":p": {"S": "p2"}, ":s": {"S": "00000000000"}}),
    dict(KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
         ExpressionAttributeValues={":p": {"S": "p1"}, ":a": {"S": "000000000002"}, ":b": {"S": "000000000004"}}),
    dict(KeyConditionExpression="pk = :p", FilterExpression="n > :n",
         ExpressionAttributeValues={":p": {"S": "p1"}, ":n": {"N": "2"}}, ProjectionExpression="sk, n"),
    dict(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p1"}}, Limit=2,
         ExclusiveStartKey={"pk": {"S": "p1"}, "sk": {"S": "000000000002"}}),
    dict(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "never-written"}}),
    dict(IndexName="by-g", KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": {"S": "odd"}}),
]


def _answers(url: str) -> list[dict]:
    db = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=url,
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    db.create_table(TableName="t", **KEYS)
    db.create_table(TableName="h", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                    BillingMode="PAY_PER_REQUEST")
    for p in ("p1", "p2", "p3"):
        for i in range(1, 6):
            db.put_item(TableName="t", Item={"pk": {"S": p}, "sk": {"S": f"{i:012d}"}, "n": {"N": str(i)},
                                             "g": {"S": "odd" if i % 2 else "even"}})
        db.put_item(TableName="h", Item={"pk": {"S": p}, "v": {"S": p * 2}})
    out = []
    for q in QUERIES:
        answer = db.query(TableName="t", **q)
        out.append({k: answer.get(k) for k in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")})
    answer = db.query(TableName="h", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p2"}})
    out.append({k: answer.get(k) for k in ("Items", "Count", "ScannedCount")})
    return out


def _serve(argv: list[str], port: int, log=subprocess.DEVNULL):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    proc = subprocess.Popen(argv, stdout=log, stderr=log, env=env)
    wait_http(f"http://127.0.0.1:{port}/moto-api/", proc=proc)
    return proc


def test_the_sandbox_moto_answers_every_query_as_moto_does(tmp_path):
    a, b = free_port(), free_port()
    plain_log, ours_log = tmp_path / "plain.log", tmp_path / "ours.log"
    with plain_log.open("wb") as pl, ours_log.open("wb") as ol:
        plain = _serve(_moto_command(a), a, pl)
        ours = _serve([sys.executable, "-m", "cato_sandbox.moto_main", "-H", "127.0.0.1", "-p", str(b)], b, ol)
        try:
            expected, got = _answers(f"http://127.0.0.1:{a}"), _answers(f"http://127.0.0.1:{b}")
            plain_conn, ours_conn = _calls_on_one_connection(a), _calls_on_one_connection(b)
        finally:
            stop_process(plain)
            stop_process(ours)
    assert got == expected   # with moto's dispatch memoised (moto_main.memoise_dispatch), the same answers
    # no access-log line a call (it cost moto ~40% of its busy CPU under load); plain moto writes one
    assert '"POST / HTTP/1.1" 200' in plain_log.read_text()
    assert "HTTP/1.1\" 200" not in ours_log.read_text()
    assert [len(x["Items"]) for x in got] == [5, 2, 5, 3, 3, 2, 0, 9, 1]   # the queries found what they ask
    # ours keeps the connection alive, as DynamoDB does; plain moto (werkzeug) closes it after each
    # answer, so each orchestrator call paid a new TCP connection
    assert ours_conn == [(11, 200, False), (11, 200, False), (11, 200, False)]
    assert plain_conn == [(11, 200, True)]   # werkzeug: "Connection: close" after every answer


def _calls_on_one_connection(port: int) -> list[tuple[int, int, bool]]:
    """(HTTP version, status, server will close) for ListTables sent three times on one connection."""
    import http.client

    conn, out = http.client.HTTPConnection("127.0.0.1", port, timeout=10), []
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables",
               "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, "
                                "SignedHeaders=host, Signature=0"}
    try:
        for _ in range(3):
            conn.request("POST", "/", body=b"{}", headers=headers)
            r = conn.getresponse()
            r.read()
            out.append((r.version, r.status, r.will_close))
            if r.will_close:
                break
    finally:
        conn.close()
    return out


def test_a_query_reads_only_its_partition(monkeypatch):
    from moto import mock_aws
    from moto.dynamodb.models.table import Table

    from cato_sandbox import moto_main

    with mock_aws():
        moto_main.install()
        try:
            seen: list[int] = []
            patched = Table.all_items
            monkeypatch.setattr(Table, "all_items", lambda self: seen.append(len(patched(self))) or patched(self))
            db = boto3.client("dynamodb", region_name="us-east-1")
            db.create_table(TableName="t", **KEYS)
            for p in range(40):
                for i in range(5):
                    db.put_item(TableName="t", Item={"pk": {"S": f"p{p}"}, "sk": {"S": f"{i:012d}"},
                                                     "g": {"S": "x"}})
            seen.clear()
            got = db.query(TableName="t", KeyConditionExpression="pk = :p",
                           ExpressionAttributeValues={":p": {"S": "p7"}})
            assert got["Count"] == 5 and seen and max(seen) == 5          # 5 items read, not 200
            seen.clear()
            db.query(TableName="t", IndexName="by-g", KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": "x"}})
            assert max(seen) == 200                                       # an index query is moto's own
        finally:
            monkeypatch.undo()
            moto_main.uninstall()
