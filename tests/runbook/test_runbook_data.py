import shutil
from pathlib import Path

import pytest

from cato_migrate.core.kinds import CHECK_KINDS, STEP_KINDS
from cato_migrate.core.loader import DEFAULT_RUNBOOK_DIR, load_runbook
from cato_migrate.errors import RunbookError


def test_the_runbook_has_all_phases_and_weeks():
    rb = load_runbook()
    assert [p.phase for p in rb.phases] == [1, 2, 3, 4]
    weeks = [w.week for p in rb.phases for w in p.weeks]
    assert weeks == list(range(1, 17))
    assert [len(p.exit_criteria) for p in rb.phases] == [4, 5, 4, 4]  # phase 2 + the risk register's no-regression gate


def test_thresholds_triggers_and_traffic_plan():
    rb = load_runbook()
    crit = {c.id: c for p in rb.phases for c in p.exit_criteria}
    assert crit["p1.exit.p99-latency"].threshold.describe() == "p99_latency_ms < 500 ms"
    assert crit["p2.exit.cache-hit-rate"].threshold.describe() == "cache_hit_rate > 0.8 ratio"


def test_load_figures_are_stated_and_give_a_p99_enough_samples():
    from cato_migrate.acceptance.load import P99_MIN_OK, p99_support

    rb = load_runbook()
    crit = {c.id: c for p in rb.phases for c in p.exit_criteria}
    load = rb.find_step("p1.w4.load-test")[2].params
    p99 = crit["p1.exit.p99-latency"].params
    assert load["concurrency"] == p99["concurrency"] == 504  # LiteLLM's ceiling
    for figures in (load, load["sandbox"], p99, p99["sandbox"]):
        assert figures["requests"] >= P99_MIN_OK
    assert load["ramp_requests"] >= P99_MIN_OK and load["sandbox"]["ramp_requests"] >= P99_MIN_OK
    assert p99_support(P99_MIN_OK) == 10 and p99_support(99) == 0
    trig = {t.id: t for t in rb.meta.rollback.triggers}
    assert trig["error-rate"].threshold.value == 0.01 and trig["latency-p99"].threshold.value == 2000
    assert [s.percentage for s in rb.meta.traffic_plan] == [10, 50, 100]
    assert rb.meta.rollback.quick_budget_seconds == 300 and rb.meta.rollback.full_budget_seconds == 3600


def test_communication_plan_and_manual_items_are_attest_steps():
    rb = load_runbook()
    attests = [s.id for p in rb.phases for _, s in p.steps() if s.kind == "attest"]
    for week in ("p1.w1", "p2.w8", "p4.w13", "p4.w16"):
        assert any(a.startswith(week) for a in attests), week
    assert "p4.w16.team-trained" in attests


def test_unimplemented_kinds_are_registered_but_flagged():
    load_runbook()
    assert CHECK_KINDS["complaints"].implemented is False
    used = {c.check for p in load_runbook().phases for c in p.exit_criteria} | {
        s.kind for p in load_runbook().phases for _, s in p.steps()}
    assert all(CHECK_KINDS[k].implemented for k in used if k in CHECK_KINDS), "every kind the phases use is real"
    assert STEP_KINDS["traffic_shift"].implemented and CHECK_KINDS["attested"].implemented


@pytest.fixture
def copy(tmp_path):
    d = tmp_path / "rb"
    shutil.copytree(DEFAULT_RUNBOOK_DIR, d)
    return d


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_typo_in_a_field_names_file_line_and_field(copy):
    f = copy / "phase-2-orchestration.yaml"
    _edit(f, "    title: Implement Stateful Context", "    titel: Implement Stateful Context")
    with pytest.raises(RunbookError) as e:
        load_runbook(copy)
    msg = e.value.message
    line = next(i for i, ln in enumerate(f.read_text().splitlines(), 1) if "titel:" in ln)
    assert f"phase-2-orchestration.yaml:{line}: weeks.1.titel: Extra inputs are not permitted" in msg
    assert e.value.exit_code == 2


def test_unknown_step_kind_fails_at_load(copy):
    _edit(copy / "phase-4-traffic.yaml", "kind: traffic_shift", "kind: trafic_shift")
    with pytest.raises(RunbookError) as e:
        load_runbook(copy)
    assert "unknown step kind 'trafic_shift'" in e.value.message and "phase-4-traffic.yaml:" in e.value.message


def test_unknown_check_kind_fails_at_load(copy):
    _edit(copy / "phase-1-infrastructure.yaml", "check: nli_accuracy", "check: nli_acuracy")
    with pytest.raises(RunbookError) as e:
        load_runbook(copy)
    assert "unknown check kind 'nli_acuracy'" in e.value.message


def test_bad_params_for_a_kind_name_the_line(copy):
    _edit(copy / "phase-4-traffic.yaml", "params: {percentage: 50}", "params: {percentage: 500}")
    with pytest.raises(RunbookError) as e:
        load_runbook(copy)
    assert "weeks.1.steps.0.params.percentage" in e.value.message


def test_wrong_threshold_operator(copy):
    _edit(copy / "phase-1-infrastructure.yaml", 'op: "<", value: 500', 'op: "<<", value: 500')
    with pytest.raises(RunbookError) as e:
        load_runbook(copy)
    assert "exit_criteria.3.threshold.op" in e.value.message


def test_invalid_yaml_names_the_line(copy):
    (copy / "runbook.yaml").write_text("name: [unclosed\n")
    with pytest.raises(RunbookError) as e:
        load_runbook(copy)
    assert "runbook.yaml:" in e.value.message and "not valid YAML" in e.value.message


def test_duplicate_ids_are_refused(copy):
    _edit(copy / "phase-4-traffic.yaml", "id: p4.w16.team-trained", "id: p4.w16.announce-completion")
    with pytest.raises(RunbookError) as e:
        load_runbook(copy)
    assert "more than once" in e.value.message
