"""Pure reading of the journal: where each step and criterion stands."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cato_migrate.core.runbook import PhaseSpec, RunbookSpec, StepSpec
from cato_migrate.core.state import JournalEntry

StepState = Literal["pending", "running", "done", "failed"]


@dataclass(frozen=True)
class StepProgress:
    step: StepSpec
    state: StepState
    last: JournalEntry | None


def step_state(entries: list[JournalEntry], step_id: str) -> tuple[StepState, JournalEntry | None]:
    """`running` means started with no finish after it: interrupted, or running now."""
    last = None
    for e in entries:
        if e.key == step_id and e.event in ("started", "finished", "failed", "attested"):
            last = e
    if last is None:
        return "pending", None
    states: dict[str, StepState] = {"started": "running", "finished": "done", "attested": "done", "failed": "failed"}
    return states[last.event], last


def phase_progress(phase: PhaseSpec, entries: list[JournalEntry]) -> list[StepProgress]:
    return [StepProgress(s, *step_state(entries, s.id)) for _, s in phase.steps()]


def latest_checks(entries: list[JournalEntry]) -> dict[str, JournalEntry]:
    out: dict[str, JournalEntry] = {}
    for e in entries:
        if e.event == "check":
            out[e.key] = e
    return out


def phase_passed(phase: PhaseSpec, entries: list[JournalEntry]) -> bool:
    """True only when the latest recorded result of every exit criterion is `pass`."""
    latest = latest_checks(entries)
    return all(c.id in latest and latest[c.id].status == "pass" for c in phase.exit_criteria)


def attestation(entries: list[JournalEntry], step_id: str) -> JournalEntry | None:
    found = None
    for e in entries:
        if e.key == step_id and e.event == "attested":
            found = e
    return found


def where_are_we(runbook: RunbookSpec, entries: list[JournalEntry]) -> dict[str, Any]:
    """Current phase/week = the first step not done; counts of done steps."""
    total = done = 0
    next_step = None
    for p in runbook.phases:
        for w, s in p.steps():
            total += 1
            state, _ = step_state(entries, s.id)
            if state == "done":
                done += 1
            elif next_step is None:
                next_step = {"phase": p.phase, "week": w.week, "step": s.id, "title": s.title,
                             "kind": s.kind, "state": state}
    return {"steps_done": done, "steps_total": total, "next": next_step,
            "phase": next_step["phase"] if next_step else runbook.phases[-1].phase,
            "week": next_step["week"] if next_step else 16}
