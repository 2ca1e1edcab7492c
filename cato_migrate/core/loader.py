"""Load and validate the runbook data. Errors name the file, the line and the field."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from cato_migrate.core.kinds import CHECK_KINDS, STEP_KINDS, load_kinds
from cato_migrate.core.runbook import PhaseSpec, RunbookMeta, RunbookSpec
from cato_migrate.errors import RunbookError

DEFAULT_RUNBOOK_DIR = Path(__file__).resolve().parents[2] / "runbook"
META_FILE = "runbook.yaml"


Loc = tuple[str | int, ...]  # a path into the YAML: keys and list indexes


def _line_of(src: _Source | yaml.Node | None, loc: Loc) -> int:
    """1-based line of the deepest YAML node that `loc` reaches."""
    node = src.node if isinstance(src, _Source) else src
    line = (node.start_mark.line + 1) if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
        else:
            nxt = None
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Source:
    """A file's text; its node tree (for line numbers) is composed only when an error needs it."""

    def __init__(self, text: str):
        self.text = text
        self._node: yaml.Node | None = None

    @property
    def node(self) -> yaml.Node | None:
        if self._node is None:
            self._node = yaml.compose(self.text, Loader=_Loader)
        return self._node


def _read(path: Path) -> tuple[Any, _Source]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RunbookError(f"{path}: cannot read it: {exc.strerror or exc}",
                           hint="point CATO_RUNBOOK_DIR at a directory holding runbook.yaml and its phase files") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise RunbookError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x})",
                           hint="save the runbook file as UTF-8") from exc
    try:
        return yaml.load(text, Loader=_Loader), _Source(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise RunbookError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc


def _validate(model: type[BaseModel], data: Any, path: Path, node: _Source, prefix: Loc = ()) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = prefix + tuple(err["loc"])
            field = ".".join(str(p) for p in loc) or "(top level)"
            problems.append(f"{path}:{_line_of(node, loc)}: {field}: {err['msg']}")
        raise RunbookError("invalid runbook data:\n  " + "\n  ".join(problems),
                           details={"problems": problems}) from exc


def _check_kinds(phase: PhaseSpec, raw: dict[str, Any], path: Path, node: _Source) -> None:
    loc: Loc
    for wi, week in enumerate(phase.weeks):
        for si, step in enumerate(week.steps):
            loc = ("weeks", wi, "steps", si)
            if step.kind not in STEP_KINDS:
                raise RunbookError(
                    f"{path}:{_line_of(node, loc + ('kind',))}: {'.'.join(map(str, loc))}.kind: "
                    f"unknown step kind {step.kind!r}; known: {', '.join(sorted(STEP_KINDS))}")
            _validate(STEP_KINDS[step.kind].Params, step.params, path, node, loc + ("params",))
    for ci, crit in enumerate(phase.exit_criteria):
        loc = ("exit_criteria", ci)
        if crit.check not in CHECK_KINDS:
            raise RunbookError(
                f"{path}:{_line_of(node, loc + ('check',))}: exit_criteria.{ci}.check: "
                f"unknown check kind {crit.check!r}; known: {', '.join(sorted(CHECK_KINDS))}")
        _validate(CHECK_KINDS[crit.check].Params, crit.params, path, node, loc + ("params",))


def load_runbook(directory: Path | None = None) -> RunbookSpec:
    load_kinds()
    directory = Path(directory or DEFAULT_RUNBOOK_DIR)
    if not directory.is_dir():
        raise RunbookError(f"runbook directory {directory} does not exist or is not a directory",
                           hint="point CATO_RUNBOOK_DIR at a directory holding runbook.yaml (or unset it)")
    meta_path = directory / META_FILE
    raw, node = _read(meta_path)
    meta: RunbookMeta = _validate(RunbookMeta, raw, meta_path, node)
    for ti, trig in enumerate(meta.rollback.triggers):
        if trig.check not in CHECK_KINDS:
            raise RunbookError(f"{meta_path}:{_line_of(node, ('rollback', 'triggers', ti, 'check'))}: "
                               f"rollback.triggers.{ti}.check: unknown check kind {trig.check!r}")
    phases = []
    for name in meta.phase_files:
        path = directory / name
        raw, node = _read(path)
        phase: PhaseSpec = _validate(PhaseSpec, raw, path, node)
        _check_kinds(phase, raw, path, node)
        phases.append(phase)
    spec = RunbookSpec(meta=meta, phases=phases)
    _check_whole(spec, meta_path)
    return spec


def _check_whole(spec: RunbookSpec, meta_path: Path) -> None:
    numbers = [p.phase for p in spec.phases]
    if numbers != sorted(set(numbers)):
        raise RunbookError(f"{meta_path}: phase_files must list phases in order, once each; got {numbers}")
    seen: set[str] = set()
    for p in spec.phases:
        ids = [s.id for _, s in p.steps()] + [c.id for c in p.exit_criteria]
        for i in ids:
            if i in seen:
                raise RunbookError(f"phase {p.phase}: id {i!r} appears more than once; ids are journal keys and must be unique")
            seen.add(i)
    for st in spec.meta.traffic_plan:
        missing = [n for n in st.requires_phases if n not in numbers]
        if missing:
            raise RunbookError(f"{meta_path}: traffic_plan stage {st.percentage}% requires unknown phases {missing}")
    refs = spec.reference_problems()  # success_metrics and risks -> steps and criteria
    if refs:
        raise RunbookError(f"{meta_path}: " + "; ".join(refs), hint="name a step or exit criterion the phase files define")
