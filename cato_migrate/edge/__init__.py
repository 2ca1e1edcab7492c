"""Cato's traffic edge: the component that splits users between the legacy stack (LiteLLM) and
the new one (the orchestrator) by the AppConfig flag, and the per-stack metrics canary analysis
reads. Shipped as its own image (images/edge/Dockerfile) and Deployment (k8s/edge/).

    python -m cato_migrate.edge.gateway ...     the edge process (see its docstring)

For Cato's API, if it splits traffic itself instead of sending it through the edge, the public
bucketing is the one the edge applies, so a user lands on the same stack either way:

    from cato_migrate.edge import pick_stack
    stack = pick_stack(user_id, percentage)    # "new" or "legacy"; sticky as the percentage rises

`percentage` is the flag's effective percentage (0 when the flag is missing or disabled). Pure:
no I/O, no clock, no randomness. Importing this package imports neither aiohttp nor boto3.
"""
from __future__ import annotations

from cato_migrate.core.bucketing import BUCKETS, bucket_of, on_new_stack, pick_stack

__all__ = ["BUCKETS", "bucket_of", "on_new_stack", "pick_stack"]
