"""config/pricing.yaml: valid, covering every tier, equal to config/litellm.yaml's per-token prices; a bad
file is exit 2 naming the file and the field."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cato_migrate.core.price_loader import load_prices
from cato_migrate.errors import BadInput
from orchestrator.models_catalog import LEGACY_ALIASES
from orchestrator.ports import ModelTier
from orchestrator.pricing import BedrockPrice, SelfHostedPrice

ROOT = Path(__file__).resolve().parents[2]
PRICES = ROOT / "config" / "pricing.yaml"


def test_the_shipped_prices_load_and_price_every_tier():
    table = load_prices()
    assert set(table.tiers) == set(ModelTier)
    assert table.taken_on.isoformat() == "2026-12-05" and table.region == "us-east-1"
    haiku, sonnet = table.tiers[ModelTier.BEDROCK_HAIKU], table.tiers[ModelTier.BEDROCK_SONNET]
    assert (haiku.input_usd_per_1k, haiku.output_usd_per_1k) == (0.00025, 0.00125)
    assert (sonnet.input_usd_per_1k, sonnet.output_usd_per_1k) == (0.003, 0.015)
    shadow = table.tiers[ModelTier.SHADOW_SELF]
    assert isinstance(shadow, SelfHostedPrice) and shadow.instance_type == "ml.g6e.2xlarge"
    # $2.80 per instance-hour / 0.6 utilisation / 10,800 requests per hour
    assert shadow.request_usd() == pytest.approx(2.80 / 0.6 / 10800)


def test_bedrock_prices_name_the_models_clients_send_and_the_tiers_they_pin():
    table = load_prices()
    by_model = table.bedrock_by_model()
    assert set(by_model) == set(LEGACY_ALIASES)
    for model, price in by_model.items():
        assert table.tiers[LEGACY_ALIASES[model]] is price


def test_litellm_charges_what_pricing_yaml_says():
    """The legacy baseline (LiteLLM's x-litellm-response-cost) must price with the same numbers."""
    litellm = yaml.safe_load((ROOT / "config" / "litellm.yaml").read_text())
    by_model = load_prices().bedrock_by_model()
    seen = set()
    for entry in litellm["model_list"]:
        info = entry.get("model_info") or {}
        price = by_model[entry["model_name"]]
        assert isinstance(price, BedrockPrice)
        assert info["input_cost_per_token"] == pytest.approx(price.input_usd_per_1k / 1000, rel=1e-12)
        assert info["output_cost_per_token"] == pytest.approx(price.output_usd_per_1k / 1000, rel=1e-12)
        assert entry["litellm_params"]["model"].endswith(price.model_id)
        seen.add(entry["model_name"])
    assert seen == set(by_model)


def test_the_sandbox_orchestrator_gets_the_same_prices():
    from cato_sandbox.orchestrator_config import sandbox_config

    state = {"components": [{"name": n, "url": f"http://127.0.0.1:{i}"} for i, n in
                            enumerate(("simulator", "redis", "moto"), 1)]}
    assert sandbox_config(state).pricing == load_prices()


def _write(tmp_path, mutate) -> Path:
    data = yaml.safe_load(PRICES.read_text())
    mutate(data)
    path = tmp_path / "pricing.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("mutate,field", [
    (lambda d: d["tiers"]["bedrock_haiku"].update(input_usd_per_1k=-1), "tiers.bedrock_haiku.bedrock.input_usd_per_1k"),
    (lambda d: d["tiers"]["shadow_self"].update(utilisation=1.5), "tiers.shadow_self.self_hosted.utilisation"),
    (lambda d: d["tiers"]["shadow_self"].update(requests_per_instance_hour=0),
     "tiers.shadow_self.self_hosted.requests_per_instance_hour"),
    (lambda d: d["tiers"]["bedrock_sonnet"].update(output_per_1k=0.015), "output_per_1k: unknown field"),
    (lambda d: d.update(taken_on="last week"), "taken_on"),
    (lambda d: d.pop("taken_on"), "taken_on: Field required"),
    (lambda d: d["tiers"].update(gpt4={"kind": "bedrock"}), "tiers.gpt4"),
    (lambda d: d["tiers"]["bedrock_haiku"].update(input_usd_per_1k=float("inf")), "input_usd_per_1k"),
])
def test_a_bad_price_file_is_exit_2_naming_file_and_field(tmp_path, mutate, field):
    path = _write(tmp_path, mutate)
    with pytest.raises(BadInput) as exc:
        load_prices(path)
    assert exc.value.exit_code == 2
    assert str(path) in exc.value.message and field in exc.value.message, exc.value.message


def test_a_missing_or_broken_price_file_is_exit_2(tmp_path):
    with pytest.raises(BadInput, match="cannot read it"):
        load_prices(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("tiers: [unclosed\n")
    with pytest.raises(BadInput, match="not valid YAML"):
        load_prices(broken)


def test_the_kubernetes_orchestrator_is_priced_like_the_file():
    """k8s/ray-serve/cato-orchestrator.yaml carries the prices in the orchestrator's config (it has no config/)."""
    rs = next(d for d in yaml.safe_load_all((ROOT / "k8s" / "ray-serve" / "cato-orchestrator.yaml").read_text())
              if d and d.get("kind") == "RayService")
    args = yaml.safe_load(rs["spec"]["serveConfigV2"])["applications"][0]["args"]
    from orchestrator.config import OrchestratorConfig

    shipped = OrchestratorConfig.model_validate(args).pricing
    table = load_prices()
    assert shipped.taken_on == table.taken_on and shipped.region == table.region
    for tier, price in table.tiers.items():
        ignore = {"throughput_source"}
        assert shipped.tiers[tier].model_dump(exclude=ignore) == price.model_dump(exclude=ignore), tier
