"""`--help` and `status` must not import boto3, kubernetes, ray or model code; `--help` not even pydantic,
yaml, httpx or rich's console (bench/startup.py times them; no timing is asserted here)."""
from __future__ import annotations

import subprocess
import sys

from tests.cli.conftest import cli_env

HEAVY = ("boto3", "botocore", "kubernetes", "ray", "torch", "onnxruntime", "sentence_transformers", "moto",
         "orchestrator", "numpy", "tokenizers", "hnswlib", "aiohttp", "fastapi", "redis")


# What --help may load of the project: the verbs' modules and the error tree (for the exit codes).
HELP_ONLY = ("cato_migrate", "cato_migrate.cli", "cato_migrate.errors")
NOT_FOR_HELP = ("pydantic", "pydantic_core", "pydantic_settings", "yaml", "httpx", "asyncio", "sqlite3",
                "rich.console", "rich.table", "importlib.metadata")


def imported_modules(args, cwd, env, full: bool = False) -> set[str]:
    """Top-level packages imported (full: every dotted module name)."""
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "cato_migrate", *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    mods = set()
    for line in r.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            mods.add(name if full else name.split(".")[0])
    assert "cato_migrate" in mods  # the probe itself works
    return mods


def test_help_imports_nothing_heavy(tmp_path):
    mods = imported_modules(["--help"], tmp_path, cli_env(tmp_path))
    assert not mods & set(HEAVY), mods & set(HEAVY)


def test_help_imports_no_pydantic_yaml_httpx_or_console_and_no_core(tmp_path):
    mods = imported_modules(["--help"], tmp_path, cli_env(tmp_path), full=True)
    assert not mods & set(NOT_FOR_HELP), mods & set(NOT_FOR_HELP)
    project = {m for m in mods if m.startswith("cato_migrate")}
    assert all(m in HELP_ONLY or m.startswith("cato_migrate.cli.") for m in project), sorted(project)


def test_a_verbs_help_imports_no_settings_or_core_either(tmp_path):
    # typer coerces the global options it parses on the way to a verb through pydantic: that much is typer's
    not_for_verb_help = set(NOT_FOR_HELP) - {"pydantic", "pydantic_core", "importlib.metadata"}
    env = cli_env(tmp_path, CATO_REGOIN="eu-west-1")  # the unknown-variable warning waits for settings too
    for args in (["phase", "--help"], ["canary", "set", "--help"], ["report", "--help"]):
        mods = imported_modules(args, tmp_path, env, full=True)
        project = {m for m in mods if m.startswith("cato_migrate")}
        assert all(m in HELP_ONLY or m.startswith("cato_migrate.cli.") for m in project), (args, sorted(project))
        assert not mods & not_for_verb_help, (args, mods & not_for_verb_help)


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
