"""Ten on-call engineers press enter at once: exactly one mutation, nine exit 3, nothing lost."""
from __future__ import annotations

import json


def test_ten_concurrent_mutating_commands_make_exactly_one_change(cli):
    # an 8-"minute" (8 s) rollout keeps the winner holding the lock while the others start
    cli.env.update(CATO_CANARY_STRATEGY="cato-canary-slow", CATO_CANARY_DEPLOY_MINUTES="8",
                   CATO_CANARY_BAKE_MINUTES="0")
    procs = [cli.popen("canary", "set", "10", "--force", "--reason", f"engineer {i}") for i in range(10)]
    codes = [p.wait(120) for p in procs]
    errs = [p.stderr.read() for p in procs]
    assert sorted(codes) == [0] + [3] * 9, list(zip(codes, errs))
    assert all("held by" in e for c, e in zip(codes, errs) if c == 3)
    entries = cli.json("history")["entries"]
    assert [e["action"] for e in entries].count("canary.set") == 1
    st = cli.json("canary", "status")
    assert st["served_percentage"] == 10 and st["deployment"]["number"] == 1
    assert cli.json("lock", "status")["held"] is False
    winner = errs[codes.index(0)]
    assert "Traceback" not in winner and all("Traceback" not in e for e in errs)
    print(json.dumps({"concurrent_commands": 10, "mutations": 1, "exit_3": codes.count(3)}))
