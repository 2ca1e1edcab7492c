"""Base model for config, runbook data and state records: unknown fields are errors."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class CoreModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Record(BaseModel):
    """An immutable state record (journal, audit, lock lease)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
