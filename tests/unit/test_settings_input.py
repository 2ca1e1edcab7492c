"""load_settings and the runbook loader refuse bad input with BadInput/RunbookError that names the culprit."""
import os
import shutil
from pathlib import Path

import pytest

from cato_migrate.core.loader import DEFAULT_RUNBOOK_DIR, load_runbook
from cato_migrate.errors import BadInput, RunbookError
from cato_migrate.settings import OTHER_COMPONENTS_VARS, load_settings, unknown_env_vars


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for k in list(os.environ):
        if k.startswith("CATO_"):
            monkeypatch.delenv(k)


def refused(tmp_path: Path, **overrides) -> str:
    with pytest.raises(BadInput) as e:
        load_settings(tmp_path, **overrides)
    return e.value.message


@pytest.mark.parametrize("value, want", [
    ("us-west-2", ["us-west-2"]), ("us-west-2, eu-west-1", ["us-west-2", "eu-west-1"]),
    ('["eu-west-1"]', ["eu-west-1"]), ("", []),
])
def test_replica_regions_from_a_variable(tmp_path, monkeypatch, value, want):
    monkeypatch.setenv("CATO_REPLICA_REGIONS", value)
    assert load_settings(tmp_path).replica_regions == want


def test_replica_regions_bad_json_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("CATO_REPLICA_REGIONS", '["us-west-2"')
    assert "CATO_REPLICA_REGIONS" in refused(tmp_path)


@pytest.mark.parametrize("value, says", [("inf", "finite"), ("nan", "finite"), ("-inf", "finite"),
                                         ("0.01", "greater than or equal to 10"), ("3601", "less than or equal to 3600")])
def test_lock_ttl_bounds(tmp_path, monkeypatch, value, says):
    monkeypatch.setenv("CATO_LOCK_TTL_SECONDS", value)
    msg = refused(tmp_path)
    assert "CATO_LOCK_TTL_SECONDS" in msg and says in msg


def test_toml_directory_and_non_utf8(tmp_path):
    (tmp_path / "cato-migrate.toml").mkdir()
    assert "cannot read" in refused(tmp_path)
    (tmp_path / "cato-migrate.toml").rmdir()
    (tmp_path / "cato-migrate.toml").write_bytes(b'region = "x"\n\n# \xff\n')
    assert "cato-migrate.toml:3: not UTF-8" in refused(tmp_path)


@pytest.mark.parametrize("text, says", [
    ('[environments.prod]\nregion = "x"\n', "unknown environment(s) under [environments]: prod; valid: local, staging, production"),
    ("environments = []\n", "`environments` must be a table"),
    ('[environments]\nstaging = "x"\n', "[environments.staging] must be a table"),
    ("region = 5\n", "cato-migrate.toml: region: Input should be a valid string"),
    ("[environments.local]\nlegacy_replicas = 0\n", "[environments.local] legacy_replicas"),
    ('env = ["local"]\n', "cato-migrate.toml: env"),
])
def test_toml_shape_and_types(tmp_path, text, says):
    (tmp_path / "cato-migrate.toml").write_text(text)
    assert says in refused(tmp_path)


def test_a_variable_that_overrides_a_bad_file_value_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("CATO_LEGACY_REPLICAS", "0")
    assert "CATO_LEGACY_REPLICAS" in refused(tmp_path)


def test_unknown_variables_are_listed_but_known_ones_are_not():
    env = {"CATO_REGOIN": "x", "CATO_REGION": "x", "CATO_ORCHESTRATOR_API_KEYS": "[]", "PATH": "/bin",
           "CATO_LOCK_TTL": "60"}
    assert unknown_env_vars(env) == ["CATO_LOCK_TTL", "CATO_REGOIN"]
    assert not unknown_env_vars({k: "" for k in OTHER_COMPONENTS_VARS})


def _copy_runbook(tmp_path: Path) -> Path:
    d = tmp_path / "rb"
    shutil.copytree(DEFAULT_RUNBOOK_DIR, d)
    return d


def test_runbook_non_utf8_and_directory_files_name_the_file(tmp_path):
    d = _copy_runbook(tmp_path)
    phase = d / "phase-2-orchestration.yaml"
    phase.write_bytes(phase.read_bytes() + b"\n# \xfe\n")
    with pytest.raises(RunbookError) as e:
        load_runbook(d)
    assert str(phase) in e.value.message and "not UTF-8" in e.value.message
    phase.unlink()
    phase.mkdir()
    with pytest.raises(RunbookError) as e:
        load_runbook(d)
    assert str(phase) in e.value.message and "cannot read" in e.value.message


def test_runbook_directory_missing(tmp_path):
    with pytest.raises(RunbookError) as e:
        load_runbook(tmp_path / "nowhere")
    assert "nowhere" in e.value.message
