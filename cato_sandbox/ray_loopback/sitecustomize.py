"""Sandbox only: keep Ray 2.60's HAProxy ingress on loopback, and bound its connections to each replica.

Ray renders HAProxy's config from a template whose stats page (`bind *:PORT`) and Prometheus
exporter (`bind :PORT`) listen on every interface, with no setting to narrow them. The sandbox
binds everything to 127.0.0.1, so for the local Ray head started with the `haproxy` ingress (and
only there: this directory is put on PYTHONPATH by `ingress.ingress_env`), this hook rewrites
those two bind lines to 127.0.0.1 as the template module is imported. If a Ray upgrade changes
the lines, nothing is rewritten and tests/cli/test_orchestrator_haproxy.py, which asserts no
HAProxy socket listens beyond loopback, fails.

Then it applies the product's own patch, as production's orchestrator/ray_hooks/sitecustomize.py
does: a `maxconn` per replica and HAProxy's 429 (orchestrator/ingress_limits.py).
"""
from orchestrator.ingress_limits import TEMPLATE_MODULE, on_import, patch_module

_LINES = (("bind :{{ config.metrics_port }}", "bind 127.0.0.1:{{ config.metrics_port }}"),
          ("bind *:{{ config.stats_port }}", "bind 127.0.0.1:{{ config.stats_port }}"))


def _patch(module) -> None:
    template = module.HAPROXY_CONFIG_TEMPLATE
    for old, new in _LINES:
        template = template.replace(old, new)
    module.HAPROXY_CONFIG_TEMPLATE = template
    patch_module(module)


on_import(TEMPLATE_MODULE, _patch)
