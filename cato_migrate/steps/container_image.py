"""Build a model container image and push it to ECR; verified by reading it back from ECR.

* With a docker daemon (staging, production): `docker build` (labelled with the build context's
  content digest), `docker login` with an ECR token, `docker push`, then DescribeImages.
* Without one, where the environment's profile says so (the local sandbox): nothing is built. The build context's content digest is
  registered in (moto) ECR with PutImage as an OCI manifest whose annotations say that no build
  ran, so the deploy step can pin "the image" by digest and DescribeImages verifies it. plan()
  and the evidence say so; a changed context is a new digest, so the step is no longer done.
* Without one elsewhere: the step stops (nothing pushed) rather than pretend.
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import os
from pathlib import Path

from pydantic import Field

from cato_migrate.core.kinds import StepKind, Verification, register_step
from cato_migrate.core.model import CoreModel
from cato_migrate.errors import BadInput, ExternalError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
CONTEXT_LABEL = "cato.context.digest"
NOT_BUILT = "false: registered by cato-migrate on the local sandbox; no docker build ran"
_ALWAYS_IGNORED = ("__pycache__", "*.pyc", ".pytest_cache", ".git")
_ROOT = Path(__file__).resolve().parents[2]


class ImageParams(CoreModel):
    image: str = Field(pattern=r"^[a-z0-9][a-z0-9._/-]{1,255}$", description="ECR repository name.")
    tag: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", description="Image tag.")
    context: str = Field(description="Build context directory (with its Dockerfile), relative to the project.")


def resolve_context(context: str) -> Path:
    p = Path(context)
    for candidate in ([p] if p.is_absolute() else [Path.cwd() / p, _ROOT / p]):
        if (candidate / "Dockerfile").is_file():
            return candidate
    raise BadInput(f"build context {context} has no Dockerfile; nothing was built",
                   hint="run from the project root, or give the context's path")


def _ignored(rel: str, patterns: list[str]) -> bool:
    parts = rel.split("/")
    return any(fnmatch.fnmatch(part, pat) for pat in _ALWAYS_IGNORED for part in parts) or \
        any(fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(rel, pat.rstrip("/") + "/*") for pat in patterns)


def context_digest(context: Path) -> tuple[str, int, int]:
    """(sha256:..., files, bytes) over the context's files: path, exec bit and content, in
    path order, honouring .dockerignore's plain patterns. The same tree always gives the same digest."""
    ignore_file = context / ".dockerignore"
    patterns = [line.strip() for line in ignore_file.read_text().splitlines()
                if line.strip() and not line.startswith("#")] if ignore_file.exists() else []
    h, files, size = hashlib.sha256(), 0, 0
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        rel = path.relative_to(context).as_posix()
        if _ignored(rel, patterns):
            continue
        data = path.read_bytes()
        h.update(f"{rel}\0{int(os.access(path, os.X_OK))}\0{len(data)}\0".encode())
        h.update(data)
        files, size = files + 1, size + len(data)
    return "sha256:" + h.hexdigest(), files, size


def sandbox_manifest(image: str, tag: str, context: str, digest: str, size: int) -> tuple[str, str]:
    """(manifest JSON, its digest): an OCI manifest naming the context digest, saying it was not built."""
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": digest, "size": size}, "layers": [],
                "annotations": {"org.opencontainers.image.title": f"{image}:{tag}",
                                "org.opencontainers.image.source": context,
                                CONTEXT_LABEL: digest, "cato.built": NOT_BUILT}}
    text = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
    return text, "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def manifest_context(manifest: str | None) -> str | None:
    try:
        return (json.loads(manifest or "").get("annotations") or {}).get(CONTEXT_LABEL)
    except (ValueError, AttributeError):
        return None


def _docker(ctx):
    from cato_migrate.adapters.container_registry import DockerCli

    return DockerCli()


@register_step
class ContainerImage(StepKind):
    name = "container_image"
    Params = ImageParams

    def plan(self, step, params, ctx) -> str:
        ref = f"<ECR>/{params.image}:{params.tag}"
        if ctx.services.environment().register_unbuilt_images:
            return (f"sandbox: NO docker build; register the content digest of {params.context} in the sandbox's "
                    f"(moto) ECR as {ref} with PutImage (manifest annotated cato.built=false), then read it back "
                    "with DescribeImages")
        return (f"docker build {params.context} -t {ref} (labelled with the context digest), docker login to ECR, "
                f"docker push {ref}, then read it back with DescribeImages")

    def apply(self, step, params, ctx) -> dict:
        context = resolve_context(params.context)
        digest, files, size = context_digest(context)
        registry = ctx.services.container_registry()
        uri = registry.repository_uri(params.image, create=True)
        base = {"repository": uri, "tag": params.tag, "context": params.context, "context_digest": digest,
                "context_files": files}
        if ctx.services.environment().register_unbuilt_images:
            manifest, manifest_digest = sandbox_manifest(params.image, params.tag, params.context, digest, size)
            current = registry.image(params.image, params.tag)
            if current is not None and current.digest == manifest_digest:
                return {**base, "mode": "sandbox-register", "built": False, "image_digest": current.digest,
                        "changed": False}
            pushed = registry.put_manifest(params.image, params.tag, manifest, manifest_digest, OCI_MANIFEST)
            return {**base, "mode": "sandbox-register", "built": False, "image_digest": pushed, "changed": True,
                    "note": "no docker build ran: the context digest was registered in the sandbox's ECR"}
        docker = _docker(ctx)
        if not docker.available():
            raise ExternalError("no docker daemon is reachable, so the image cannot be built; nothing was pushed",
                                hint="run this step where `docker version` shows a Server (a build host or CI runner)")
        ref = f"{uri}:{params.tag}"
        docker.build(str(context), ref, {CONTEXT_LABEL: digest})
        docker.login(*registry.login_password())
        docker.push(ref)
        return {**base, "mode": "docker", "built": True, "changed": True}

    def verify(self, step, params, ctx) -> Verification:
        registry = ctx.services.container_registry()
        unbuilt = ctx.services.environment().register_unbuilt_images
        found = registry.image(params.image, params.tag, with_manifest=unbuilt)
        if found is None:
            return Verification(False, f"ECR has no image {params.image}:{params.tag}", {"repository": params.image})
        evidence = {"image": f"{found.uri}:{params.tag}", "image_digest": found.digest}
        if unbuilt:
            digest, _, _ = context_digest(resolve_context(params.context))
            evidence.update(context_digest=digest, built=False)
            if manifest_context(found.manifest) != digest:
                return Verification(False, f"ECR's {params.image}:{params.tag} was registered from another version "
                                    f"of {params.context}", evidence)
            return Verification(True, f"ECR has {params.image}:{params.tag} ({found.digest[:19]}), registered from the "
                                "context digest on the sandbox (no docker build ran)", evidence)
        return Verification(True, f"ECR has {params.image}:{params.tag} ({found.digest[:19]})", evidence)
