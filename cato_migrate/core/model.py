"""Base model for config, runbook data and state records: unknown fields are errors."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


# defer_build: a model's validator is built on its first use, not at import, so a command pays
# only for the models it touches (`status` imports the ports and runbook modules, which define
# dozens it never validates).
class CoreModel(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class Record(BaseModel):
    """An immutable state record (journal, audit, lock lease)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
