"""Container images: Amazon ECR (boto3 `ecr`, lazy) and the docker CLI that builds and pushes to it.

`EcrRegistry` creates repositories, reads images back (DescribeImages, BatchGetImage) and, where
no docker daemon exists (the sandbox), registers a manifest with PutImage. `DockerCli` runs
`docker build`, `docker login` and `docker push` as subprocesses. Vendor and subprocess
failures become our error tree.
"""
from __future__ import annotations

import base64
import shutil
import subprocess

from cato_migrate.adapters.aws import AwsClients
from cato_migrate.errors import ExternalError, NotFound
from cato_migrate.backend_ports import ImageRecord


class EcrRegistry:
    def __init__(self, *, region: str, endpoint_url: str | None = None):
        self.region, self.endpoint_url = region, endpoint_url or None
        self._aws = AwsClients(region=region, endpoint_url=self.endpoint_url, max_attempts=5, read_timeout=30)

    def _client(self):
        return self._aws.get("ecr")

    def _call(self, op: str, **kw):
        with self._aws.errors(f"ECR {op}", hints={NotFound: "run the container_image step first"},
                              hint="check AWS credentials, region and ecr:* permissions",
                              unreachable_hint="on --env local run `cato-migrate sandbox up` first"):
            return getattr(self._client(), op)(**kw)

    def repository_uri(self, name: str, *, create: bool = False) -> str | None:
        try:
            return self._call("describe_repositories", repositoryNames=[name])["repositories"][0]["repositoryUri"]
        except NotFound:
            if not create:
                return None
        return self._call("create_repository", repositoryName=name,
                          imageScanningConfiguration={"scanOnPush": True})["repository"]["repositoryUri"]

    def image(self, repository: str, tag: str, *, with_manifest: bool = False) -> ImageRecord | None:
        uri = self.repository_uri(repository)
        if uri is None:
            return None
        try:
            detail = self._call("describe_images", repositoryName=repository,
                                imageIds=[{"imageTag": tag}])["imageDetails"][0]
        except NotFound:
            return None
        manifest = None
        if with_manifest:
            images = self._call("batch_get_image", repositoryName=repository, imageIds=[{"imageTag": tag}],
                                acceptedMediaTypes=["application/vnd.oci.image.manifest.v1+json",
                                                    "application/vnd.docker.distribution.manifest.v2+json"])["images"]
            manifest = images[0].get("imageManifest") if images else None
        return ImageRecord(repository=repository, uri=uri, tag=tag, digest=detail["imageDigest"], manifest=manifest)

    def put_manifest(self, repository: str, tag: str, manifest: str, digest: str, media_type: str) -> str:
        """Register a manifest under `tag` (moving the tag if it pointed elsewhere); its digest."""
        out = self._call("put_image", repositoryName=repository, imageManifest=manifest, imageTag=tag,
                         imageDigest=digest, imageManifestMediaType=media_type)
        return out["image"]["imageId"]["imageDigest"]

    def login_password(self) -> tuple[str, str, str]:
        """(user, password, registry URL) for `docker login`."""
        data = self._call("get_authorization_token")["authorizationData"][0]
        user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
        return user, password, data["proxyEndpoint"]


class DockerCli:
    """The docker CLI, as subprocesses. `available()` is False without a reachable daemon."""

    def __init__(self, binary: str = "docker", timeout_s: float = 3600.0):
        self.binary, self.timeout_s = binary, timeout_s

    def available(self) -> bool:
        if shutil.which(self.binary) is None:
            return False
        try:
            out = subprocess.run([self.binary, "version", "--format", "{{.Server.Version}}"],
                                 capture_output=True, text=True, timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return out.returncode == 0 and bool(out.stdout.strip())

    def _run(self, argv: list[str], what: str, stdin: str | None = None) -> str:
        try:
            out = subprocess.run([self.binary, *argv], input=stdin, capture_output=True, text=True,
                                 timeout=self.timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise ExternalError(f"docker {what} did not finish in {self.timeout_s:.0f}s") from exc
        if out.returncode != 0:
            raise ExternalError(f"docker {what} failed (exit {out.returncode}): {out.stderr.strip()[-800:]}",
                                hint="fix the error above and run the step again")
        return out.stdout

    def build(self, context: str, ref: str, labels: dict[str, str]) -> None:
        argv = ["build", "--pull", "-t", ref]
        for k, v in labels.items():
            argv += ["--label", f"{k}={v}"]
        self._run([*argv, context], f"build of {ref}")

    def login(self, user: str, password: str, registry: str) -> None:
        self._run(["login", "--username", user, "--password-stdin", registry], "login", stdin=password)

    def push(self, ref: str) -> None:
        self._run(["push", ref], f"push of {ref}")
