"""cato_sandbox/dynamodb_layer_replication.py: a change being applied still counts as pending, so
`pending == 0` means `applied` and `failed` are final (a test that saw the replicas converge and then
read `applied` one short was reading a change still on its way)."""
from __future__ import annotations

import threading
import time

from cato_sandbox.dynamodb_layer_replication import Change, Replicator
from tests.dynamodb_layer_fixture import wait_for


def test_a_change_being_applied_is_still_pending():
    entered, release = threading.Event(), threading.Event()

    def call(headers, region, op, payload):
        if op == "GetItem":
            entered.set()
            release.wait(5)
            return 200, {"Item": {"k": {"S": "a"}}}
        return 200, {}

    replicator = Replicator(call, lag_s=0.0)
    try:
        replicator.enqueue(Change({}, "t", {"k": {"S": "a"}}, "us-east-1", ("us-west-2",), time.monotonic()))
        assert entered.wait(5)
        stats = replicator.stats()
        assert (stats["pending"], stats["applied"]) == (1, 0)
        release.set()
        assert wait_for(lambda: replicator.stats()["pending"] == 0)
        assert replicator.stats()["applied"] == 1
    finally:
        release.set()
        replicator.close()


def test_a_failed_change_leaves_pending_too():
    def call(headers, region, op, payload):
        return 500, {"message": "boom"}

    replicator = Replicator(call, lag_s=0.0)
    try:
        replicator.enqueue(Change({}, "t", {"k": {"S": "a"}}, "us-east-1", ("us-west-2",), time.monotonic()))
        assert wait_for(lambda: replicator.stats()["failed"] == 1)
        assert replicator.stats()["pending"] == 0
    finally:
        replicator.close()
