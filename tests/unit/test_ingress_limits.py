"""orchestrator/ingress_limits.py: Ray's real HAProxy template gets a bound per replica and our 429.
(Rendered by Ray and run by HAProxy, with the overflow answered: tests/cli/test_orchestrator_haproxy.py.)"""
import json

import pytest

from orchestrator.ingress_limits import (ENV_MAXCONN, IngressLimits, TemplateChanged, limit_template, limits_env,
                                         limits_from_env, patch_module, refusal_http)

LIMITS = IngressLimits(maxconn=160, maxqueue=64, queue_timeout_s=2.0, retry_after_s=3)


def _ray_template() -> str:
    from ray.serve._private import haproxy_templates

    return haproxy_templates.HAPROXY_CONFIG_TEMPLATE


def test_the_replica_server_line_is_bounded_and_the_backend_answers_overflow_with_our_429():
    out = limit_template(_ray_template(), LIMITS, "/x/429.http")
    assert out.count(" check maxconn 160 maxqueue 64{%") == 1
    assert out.count("    timeout queue 2000ms\n    errorfile 503 /x/429.http\n") == 1
    # the fallback proxy's `backup` server keeps Ray's line: it serves only while no replica is up
    assert "server {{ backend.fallback_server.name }} {{ backend.fallback_server.host }}:" \
           "{{ backend.fallback_server.port }} check backup" in out


def test_a_ray_upgrade_that_moves_the_anchors_fails_loudly():
    template = _ray_template().replace("http-reuse always\n", "http-reuse safe\n", 1)
    with pytest.raises(TemplateChanged, match="ingress_limits.py"):
        limit_template(template, LIMITS, "/x/429.http")


def test_the_refusal_is_an_openai_rate_limit_error_with_retry_after():
    raw = refusal_http(3)
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 429 Too Many Requests"
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Retry-After"] == "3" and int(headers["Content-Length"]) == len(body)
    error = json.loads(body)["error"]
    assert error["type"] == "rate_limit_error" and error["code"] == "at_capacity" and set(error) == {
        "message", "type", "param", "code"}


def test_limits_come_from_the_environment_or_not_at_all(tmp_path):
    assert limits_from_env({}) is None
    env = limits_env(160, 64, 2.0, 3)
    assert limits_from_env(env) == LIMITS
    with pytest.raises(ValueError):
        limits_env(160, 0, 2.0, 1)       # HAProxy reads maxqueue 0 as "no limit"
    with pytest.raises(ValueError, match=ENV_MAXCONN):
        limits_from_env({ENV_MAXCONN: "lots"})

    module = type("M", (), {"HAPROXY_CONFIG_TEMPLATE": _ray_template()})()
    assert patch_module(module, {}) is None and module.HAPROXY_CONFIG_TEMPLATE == _ray_template()
    assert patch_module(module, {**env, "CATO_HAPROXY_ERRORFILE_DIR": str(tmp_path)}) == LIMITS
    assert (tmp_path / "429-retry-3.http").read_bytes() == refusal_http(3)
    assert f"errorfile 503 {tmp_path / '429-retry-3.http'}" in module.HAPROXY_CONFIG_TEMPLATE
