"""`aws_max_attempts` / `aws_read_timeout_seconds`: bounded settings that reach the AppConfig
adapter's botocore client (standard retry mode, attempts counting the first)."""
from __future__ import annotations

import pytest

from cato_migrate.errors import BadInput
from cato_migrate.settings import Settings, load_settings
from cato_migrate.wiring import Services


def test_defaults_are_five_attempts_and_thirty_seconds():
    s = Settings()
    assert (s.aws_max_attempts, s.aws_read_timeout_seconds) == (5, 30.0)


@pytest.mark.parametrize("name,value", [("CATO_AWS_MAX_ATTEMPTS", "0"), ("CATO_AWS_MAX_ATTEMPTS", "11"),
                                        ("CATO_AWS_MAX_ATTEMPTS", "two"), ("CATO_AWS_READ_TIMEOUT_SECONDS", "0"),
                                        ("CATO_AWS_READ_TIMEOUT_SECONDS", "301"),
                                        ("CATO_AWS_READ_TIMEOUT_SECONDS", "inf")])
def test_out_of_range_values_are_bad_input(monkeypatch, tmp_path, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(BadInput) as exc:
        load_settings(tmp_path)
    assert name.removeprefix("CATO_").lower() in exc.value.message.lower() or name in exc.value.message


def test_the_adapter_builds_its_clients_with_them(monkeypatch, tmp_path):
    monkeypatch.setenv("CATO_AWS_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("CATO_AWS_READ_TIMEOUT_SECONDS", "1.5")
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # what wiring would otherwise set for good
        monkeypatch.setenv(var, "testing")
    url = "http://127.0.0.1:9"  # never called: clients are built, not used
    s = load_settings(tmp_path, work_dir=tmp_path / ".cato-migrate", appconfig_endpoint_url=url,
                      appconfigdata_endpoint_url=url)
    flag = Services(s).traffic_flag()
    cfg = flag._client("appconfig").meta.config
    assert cfg.retries == {"mode": "standard", "total_max_attempts": 2} and cfg.read_timeout == 1.5
    assert flag._client("appconfigdata").meta.config.read_timeout == 1.5
