"""Sticky user bucketing for the traffic split: which stack a user's request goes to.

A user's bucket is a stable hash of their id, in [0, BUCKETS). At `percentage` P the users whose
bucket is below P * BUCKETS / 100 go to the new stack. Because the cut-off only moves up as P
rises, a user on the new stack at 10% is still there at 50% (and at 100%): a conversation never
flips back to the legacy stack as the canary grows. Pure: no I/O, no clock, no randomness.

The hash is salted with a fixed label so that the split is independent of other hashes of the
same id (e.g. AppConfig's own session bucketing during a deployment).
"""
from __future__ import annotations

import hashlib

__all__ = ["BUCKETS", "bucket_of", "on_new_stack", "pick_stack"]

BUCKETS = 10_000  # 0.01 % resolution: integer percentages map to exact cut-offs
_SALT = b"cato-gateway-split/v1:"


def bucket_of(user_id: str) -> int:
    """The user's stable bucket in [0, BUCKETS): the same id always gives the same bucket."""
    digest = hashlib.sha256(_SALT + user_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def on_new_stack(user_id: str, percentage: float) -> bool:
    """True if the user belongs to the new stack's share at `percentage` (0-100; clamped)."""
    pct = min(max(float(percentage), 0.0), 100.0)
    return bucket_of(user_id) < pct * BUCKETS / 100.0


def pick_stack(user_id: str, percentage: float) -> str:
    """'new' or 'legacy' for this user at this percentage."""
    return "new" if on_new_stack(user_id, percentage) else "legacy"
