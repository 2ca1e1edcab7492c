"""Sandbox only: keep Ray 2.60's HAProxy ingress on loopback.

Ray renders HAProxy's config from a template whose stats page (`bind *:PORT`) and Prometheus
exporter (`bind :PORT`) listen on every interface, with no setting to narrow them. The sandbox
binds everything to 127.0.0.1, so for the local Ray head started with the `haproxy` ingress (and
only there: this directory is put on PYTHONPATH by `components.ingress_env`), this hook rewrites
those two bind lines to 127.0.0.1 as the template module is imported. If a Ray upgrade changes
the lines, nothing is rewritten and tests/cli/test_orchestrator_haproxy.py, which asserts no
HAProxy socket listens beyond loopback, fails.
"""
import importlib.abc
import importlib.util
import sys

_TARGET = "ray.serve._private.haproxy_templates"
_LINES = (("bind :{{ config.metrics_port }}", "bind 127.0.0.1:{{ config.metrics_port }}"),
          ("bind *:{{ config.stats_port }}", "bind 127.0.0.1:{{ config.stats_port }}"))


class _LoopbackTemplates(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != _TARGET:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            template = module.HAPROXY_CONFIG_TEMPLATE
            for old, new in _LINES:
                template = template.replace(old, new)
            module.HAPROXY_CONFIG_TEMPLATE = template

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _LoopbackTemplates())
