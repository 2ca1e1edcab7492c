"""Fencing: a command that holds the lock proves it still does immediately before every external write.

A mutating command's adapters are wrapped so that each write call (AppConfig version or
deployment, scale, apply, delete, create, install, update) first re-reads the lease from the
state store (`LeaseKeeper.fence`). A command preempted by a rollback therefore stops before its
next write instead of undoing the rollback; reads pass straight through.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable, cast

if TYPE_CHECKING:
    from cato_migrate.core.context import RunContext
    from cato_migrate.core.lock import LeaseKeeper
    from cato_migrate.ports import Services

# Method names of the ports' adapters that change something outside this process.
WRITE = re.compile(r"^(create|start|stop|update|delete|scale|apply|install|put|ensure|archive|"
                   r"remove|promote|set|enable|disable|pause|resume|tag|register|deregister)")


class Fenced:
    """An adapter whose writes are fenced; everything else is the adapter itself."""

    def __init__(self, inner: Any, fence: Callable[[str], None]):
        self._inner, self._fence = inner, fence

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr) or name.startswith("_") or not WRITE.match(name):
            return attr
        what = f"{type(self._inner).__name__}.{name}"

        def fenced(*args: Any, **kwargs: Any) -> Any:
            self._fence(what)
            return attr(*args, **kwargs)

        return fenced


class FencedServices:
    """Services whose adapters come back fenced (built lazily, as the inner Services does)."""

    def __init__(self, inner: Any, fence: Callable[[str], None]):
        self._inner, self._fence = inner, fence
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        factory = getattr(self._inner, name)
        if not callable(factory) or name.startswith("_"):
            return factory

        def build(*args: Any, **kwargs: Any) -> Any:
            adapter = factory(*args, **kwargs)
            return None if adapter is None else Fenced(adapter, self._fence)

        return build


def attach_lease(ctx: RunContext, keeper: LeaseKeeper) -> None:
    """Give a RunContext its lease and fence every adapter it hands out from now on."""
    ctx.lease = keeper
    if not isinstance(ctx.services, FencedServices):
        # FencedServices answers every Services method through __getattr__, which a Protocol cannot see.
        ctx.services = cast("Services", FencedServices(ctx.services, keeper.fence))
