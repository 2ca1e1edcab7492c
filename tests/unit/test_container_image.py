"""container_image: the build context's content digest, the sandbox manifest that says no build
ran, and the docker path (build, login, push, read back) with a fake docker and registry."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.errors import BadInput
from cato_migrate.backend_ports import ImageRecord
from cato_migrate.steps import container_image as ci
from tests.fakes import make_ctx


def context(tmp_path: Path) -> Path:
    d = tmp_path / "ctx"
    (d / "server").mkdir(parents=True)
    (d / "Dockerfile").write_text("FROM scratch\n")
    (d / "server" / "app.py").write_text("print('hi')\n")
    return d


def test_context_digest_is_stable_and_sees_content_names_and_exec_bits(tmp_path):
    d = context(tmp_path)
    first, files, size = ci.context_digest(d)
    assert first.startswith("sha256:") and files == 2 and size > 0
    assert ci.context_digest(d)[0] == first
    (d / "server" / "__pycache__").mkdir()
    (d / "server" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    assert ci.context_digest(d)[0] == first  # build noise is ignored
    (d / "notes.md").write_text("x")
    (d / ".dockerignore").write_text("notes.md\n")
    with_ignore = ci.context_digest(d)[0]
    (d / "notes.md").write_text("changed")
    assert ci.context_digest(d)[0] == with_ignore  # ignored by .dockerignore
    (d / "server" / "app.py").write_text("print('bye')\n")
    changed = ci.context_digest(d)[0]
    assert changed != with_ignore
    os.chmod(d / "server" / "app.py", 0o755)
    assert ci.context_digest(d)[0] != changed


def test_sandbox_manifest_is_content_addressed_and_says_it_was_not_built():
    text, digest = ci.sandbox_manifest("cato-nli", "v1", "images/nli", "sha256:" + "a" * 64, 10)
    assert digest == ci.sandbox_manifest("cato-nli", "v1", "images/nli", "sha256:" + "a" * 64, 10)[1]
    doc = json.loads(text)
    assert doc["annotations"]["cato.built"].startswith("false") and doc["layers"] == []
    assert ci.manifest_context(text) == "sha256:" + "a" * 64 and ci.manifest_context("not json") is None


def test_plan_says_whether_a_build_happens(tmp_path):
    store = SqliteStateStore(str(tmp_path / "s.db"))
    params = ci.ImageParams(image="cato-nli", tag="v1", context="images/nli")
    assert "NO docker build" in ci.ContainerImage().plan(None, params, make_ctx(store))
    assert ci.ContainerImage().plan(None, params, make_ctx(store, env="staging")).startswith("docker build")


def test_missing_context_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="no Dockerfile"):
        ci.resolve_context(str(tmp_path / "nowhere"))


class FakeRegistry:
    def __init__(self):
        self.images: dict[tuple[str, str], str] = {}

    def repository_uri(self, name, create=False):
        return f"123.dkr.ecr.us-east-1.amazonaws.com/{name}"

    def image(self, repository, tag, with_manifest=False):
        digest = self.images.get((repository, tag))
        return digest and ImageRecord(repository=repository, uri=self.repository_uri(repository), tag=tag, digest=digest)

    def login_password(self):
        return "AWS", "secret", "https://123.dkr.ecr.us-east-1.amazonaws.com"


class FakeDocker:
    def __init__(self, registry: FakeRegistry):
        self.registry, self.calls = registry, []

    def available(self):
        return True

    def build(self, context, ref, labels):
        self.calls.append(("build", ref, labels))

    def login(self, user, password, registry):
        self.calls.append(("login", user, registry))

    def push(self, ref):
        self.calls.append(("push", ref))
        repo, tag = ref.rsplit("/", 1)[1].split(":")
        self.registry.images[(repo, tag)] = "sha256:" + "d" * 64


def test_docker_path_builds_logs_in_pushes_and_reads_back(tmp_path, monkeypatch):
    registry = FakeRegistry()
    docker = FakeDocker(registry)
    monkeypatch.setattr(ci, "_docker", lambda ctx: docker)
    ctx = make_ctx(SqliteStateStore(str(tmp_path / "s.db")), env="staging")
    ctx.services.container_registry = lambda: registry
    params = ci.ImageParams(image="cato-nli", tag="v1", context=str(context(tmp_path)))
    kind = ci.ContainerImage()
    assert not kind.verify(None, params, ctx).ok  # nothing pushed yet
    out = kind.apply(None, params, ctx)
    assert out["mode"] == "docker" and out["built"] is True
    ref = "123.dkr.ecr.us-east-1.amazonaws.com/cato-nli:v1"
    assert [c[0] for c in docker.calls] == ["build", "login", "push"] and docker.calls[0][1] == ref
    assert docker.calls[0][2] == {ci.CONTEXT_LABEL: out["context_digest"]}
    v = kind.verify(None, params, ctx)
    assert v.ok and v.evidence["image_digest"] == "sha256:" + "d" * 64
