"""`--help` and `status` must not import boto3, kubernetes, ray or model code."""
from __future__ import annotations

import subprocess
import sys

from tests.cli.conftest import cli_env

HEAVY = ("boto3", "botocore", "kubernetes", "ray", "torch", "onnxruntime", "sentence_transformers", "moto",
         "orchestrator", "numpy", "tokenizers", "hnswlib", "aiohttp", "fastapi", "redis")


def imported_modules(args, cwd, env) -> set[str]:
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "cato_migrate", *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    mods = set()
    for line in r.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            mods.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert "cato_migrate" in mods  # the probe itself works
    return mods


def test_help_imports_nothing_heavy(tmp_path):
    mods = imported_modules(["--help"], tmp_path, cli_env(tmp_path))
    assert not mods & set(HEAVY), mods & set(HEAVY)


def test_status_imports_nothing_heavy(tmp_path):
    mods = imported_modules(["status"], tmp_path, cli_env(tmp_path))
    assert not mods & set(HEAVY), mods & set(HEAVY)


def test_bad_global_option_is_exit_2(tmp_path):
    r = subprocess.run([sys.executable, "-m", "cato_migrate", "--env", "prod", "status"], cwd=tmp_path,
                       env=cli_env(tmp_path), capture_output=True, text=True)
    assert r.returncode == 2 and "local, staging or production" in r.stderr


def test_production_mutation_without_yes_is_refused(tmp_path):
    env = cli_env(tmp_path, CATO_ENV="production")
    r = subprocess.run([sys.executable, "-m", "cato_migrate", "canary", "set", "0"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and "--yes" in r.stderr
