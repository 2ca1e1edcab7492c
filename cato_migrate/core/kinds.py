"""Step kinds and check kinds, registered by name.

A runbook that names an unknown kind fails when it loads, not halfway through a phase.
A kind that later work will implement is registered with `implemented = False`: it plans
and reports "not implemented yet" plainly, and can never pass.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from cato_migrate.core.model import CoreModel

if TYPE_CHECKING:  # annotations only: kinds stays a leaf that the loader and every step import
    from cato_migrate.core.context import RunContext
    from cato_migrate.core.runbook import CriterionSpec, RollbackTrigger, StepSpec

CheckStatus = Literal["pass", "fail", "waiting", "not_implemented"]


class NoParams(CoreModel):
    pass


@dataclass(frozen=True)
class Verification:
    ok: bool
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckResult:
    status: CheckStatus
    message: str
    measured: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


class StepKind:
    """plan() is pure; apply() must be idempotent; verify() proves apply() took."""

    name: ClassVar[str]
    Params: ClassVar[type[CoreModel]] = NoParams
    implemented: ClassVar[bool] = True
    planned_for: ClassVar[str] = ""
    mutating: ClassVar[bool] = True

    # `params` is an instance of the kind's own `Params` model (each kind narrows it).
    def plan(self, step: StepSpec, params: Any, ctx: RunContext) -> str:
        raise NotImplementedError

    def apply(self, step: StepSpec, params: Any, ctx: RunContext) -> dict[str, Any]:
        raise NotImplementedError

    def verify(self, step: StepSpec, params: Any, ctx: RunContext) -> Verification:
        raise NotImplementedError


class CheckKind:
    name: ClassVar[str]
    Params: ClassVar[type[CoreModel]] = NoParams
    implemented: ClassVar[bool] = True
    planned_for: ClassVar[str] = ""

    def evaluate(self, criterion: CriterionSpec | RollbackTrigger, params: Any, ctx: RunContext) -> CheckResult:
        raise NotImplementedError


STEP_KINDS: dict[str, type[StepKind]] = {}
CHECK_KINDS: dict[str, type[CheckKind]] = {}


Kind = TypeVar("Kind", type[StepKind], type[CheckKind])


def _register(registry: dict[str, Kind], cls: Kind, what: str) -> Kind:
    """An implemented kind replaces a planned placeholder of the same name (in either import
    order); two implementations of one name are a programming error."""
    old = registry.get(cls.name)
    if old is None or old is cls or (not old.implemented and cls.implemented):
        registry[cls.name] = cls
    elif old.implemented and not cls.implemented:
        pass
    else:
        raise RuntimeError(f"{what} kind {cls.name!r} registered twice")
    return cls


def register_step(cls: type[StepKind]) -> type[StepKind]:
    return _register(STEP_KINDS, cls, "step")


def register_check(cls: type[CheckKind]) -> type[CheckKind]:
    return _register(CHECK_KINDS, cls, "check")


_loaded = False


def load_kinds() -> None:
    """Import every module under cato_migrate.steps and cato_migrate.checks (they register)."""
    global _loaded
    if _loaded:
        return
    for pkg_name in ("cato_migrate.steps", "cato_migrate.checks"):
        pkg = importlib.import_module(pkg_name)
        for mod in pkgutil.iter_modules(pkg.__path__):
            importlib.import_module(f"{pkg_name}.{mod.name}")
    _loaded = True


def step_kind(name: str) -> StepKind:
    load_kinds()
    return STEP_KINDS[name]()


def check_kind(name: str) -> CheckKind:
    load_kinds()
    return CHECK_KINDS[name]()
