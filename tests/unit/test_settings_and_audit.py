import pytest

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.context import redact
from cato_migrate.errors import BadInput
from cato_migrate.settings import load_settings
from tests.fakes import make_ctx


def test_toml_then_env_then_flags(tmp_path, monkeypatch):
    for k in list(__import__("os").environ):
        if k.startswith("CATO_"):
            monkeypatch.delenv(k)
    (tmp_path / "cato-migrate.toml").write_text(
        'region = "eu-west-1"\nappconfig_application = "cato-x"\n'
        '[environments.staging]\nappconfig_profile = "flags-staging"\n')
    s = load_settings(tmp_path)
    assert s.region == "eu-west-1" and s.appconfig_application == "cato-x" and s.appconfig_profile == "orchestration"
    monkeypatch.setenv("CATO_ENV", "staging")
    assert load_settings(tmp_path).appconfig_profile == "flags-staging"
    monkeypatch.setenv("CATO_REGION", "us-west-2")
    assert load_settings(tmp_path).region == "us-west-2"
    assert load_settings(tmp_path, env="production").appconfig_profile == "orchestration"


def test_unknown_setting_in_toml_is_bad_input(tmp_path, monkeypatch):
    (tmp_path / "cato-migrate.toml").write_text('regoin = "eu-west-1"\n')
    with pytest.raises(BadInput) as e:
        load_settings(tmp_path)
    assert "regoin" in e.value.message


def test_audit_never_holds_secrets(tmp_path):
    store = SqliteStateStore(tmp_path / "s.db")
    ctx = make_ctx(store)
    ctx.audit("x", "t", "", aws_secret_access_key="AKIA...", nested={"api_key": "k", "ok": 1}, version="3")
    d = store.audit("local")[0].details
    assert d["aws_secret_access_key"] == "***" and d["nested"] == {"api_key": "***", "ok": 1} and d["version"] == "3"
    assert redact({"token": "t"}) == {"token": "***"}


def test_audit_log_is_append_only(tmp_path):
    import sqlite3

    store = SqliteStateStore(tmp_path / "s.db")
    make_ctx(store).audit("x")
    with pytest.raises(sqlite3.DatabaseError):
        store._db.execute("DELETE FROM audit")
