"""What one answer costs, per tier: the price table (config/pricing.yaml) and the arithmetic.

Both the orchestrator (its `cato_cost_usd_total` counters, `cato.cost_usd` in each answer) and
cato-migrate (`cost measure`, `cost status`, the LiteLLM baseline) price from this one module, so
the two sides cannot drift. It lives in the orchestrator package because the orchestrator must not
import cato_migrate; cato_migrate already imports the orchestrator's pure modules.

Two kinds of tier:

* `bedrock`: on-demand list prices per 1,000 input and output tokens; a request costs
  prompt_tokens/1000 x input + completion_tokens/1000 x output.
* `self_hosted` (vLLM on SageMaker): the instance is paid by the hour whether busy or not, so a
  request costs usd_per_instance_hour / utilisation / requests_per_instance_hour. The throughput
  (requests one instance serves per hour when fully busy) is configuration with its provenance,
  never a guess in code; utilisation (< 1) spreads the idle hours over the requests served.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.ports import ModelTier

DEFAULT_PRICE_FILE = Path(__file__).resolve().parents[1] / "config" / "pricing.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class BedrockPrice(_Model):
    kind: Literal["bedrock"] = Field(description="Billed per token by Bedrock (on-demand).")
    model: str = Field(description="The model's name as clients send it to LiteLLM today (config/litellm.yaml "
                                   "model_name), which is also the orchestrator's alias pinning this tier.")
    model_id: str = Field(description="Bedrock model id the price belongs to.")
    input_usd_per_1k: float = Field(ge=0, description="USD per 1,000 input (prompt) tokens, on-demand list price.")
    output_usd_per_1k: float = Field(ge=0, description="USD per 1,000 output (completion) tokens, on-demand list price.")

    def request_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        return prompt_tokens / 1000 * self.input_usd_per_1k + completion_tokens / 1000 * self.output_usd_per_1k


class SelfHostedPrice(_Model):
    kind: Literal["self_hosted"] = Field(description="An instance paid by the hour (vLLM on SageMaker).")
    instance_type: str = Field(description="Instance type the tier runs on, e.g. ml.g6e.2xlarge.")
    usd_per_instance_hour: float = Field(gt=0, description="On-demand USD per instance-hour.")
    utilisation: float = Field(gt=0, le=1, description="Share of the paid hours the instance is busy serving "
                                                      "(the rest is idle headroom that is paid all the same).")
    requests_per_instance_hour: float = Field(gt=0, description="Requests one instance serves in an hour when fully "
                                                                "busy: the throughput figure the cost rests on.")
    throughput_source: str = Field(min_length=1, description="Where requests_per_instance_hour comes from (a load "
                                                             "test, a benchmark), so a reader can judge it.")

    def request_usd(self, prompt_tokens: int = 0, completion_tokens: int = 0) -> float:
        # instance-hours per request = 1 / (requests_per_hour x utilisation); tokens do not change it
        return self.usd_per_instance_hour / self.utilisation / self.requests_per_instance_hour


TierPrice = Annotated[Union[BedrockPrice, SelfHostedPrice], Field(discriminator="kind")]


class PriceTable(_Model):
    """config/pricing.yaml: the prices, when they were taken, and from where."""

    currency: Literal["USD"] = Field(default="USD", description="Every price is in US dollars.")
    region: str = Field(description="AWS region the prices are for.")
    taken_on: _dt.date = Field(description="Date the prices were read from the published price lists (YYYY-MM-DD).")
    source: str = Field(min_length=1, description="Where the prices were read (the price-list pages).")
    tiers: dict[ModelTier, TierPrice] = Field(description="One price per orchestrator tier.")

    def request_usd(self, tier: ModelTier | str, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for one answer from `tier` with this usage; KeyError for a tier with no price."""
        return self.tiers[ModelTier(tier)].request_usd(int(prompt_tokens), int(completion_tokens))

    def bedrock_by_model(self) -> dict[str, BedrockPrice]:
        """Bedrock prices by the model name clients send LiteLLM (the legacy stack's models)."""
        return {p.model: p for p in self.tiers.values() if isinstance(p, BedrockPrice)}


class PriceFileError(ValueError):
    """config/pricing.yaml is missing, not YAML, or fails validation; the message names file and field."""


def read_price_file(path: Path | str = DEFAULT_PRICE_FILE) -> PriceTable:
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PriceFileError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PriceFileError(f"{path}: not valid YAML: {exc}") from None
    try:
        return PriceTable.model_validate(data)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e["loc"]) or "(top level)"
            msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
            problems.append(f"{where}: {msg}")
        raise PriceFileError(f"{path}: " + "; ".join(problems)) from None


def answer_cost(table: PriceTable | None, tier: ModelTier | str, usage: dict | None) -> float | None:
    """USD for one answer's usage ({prompt_tokens, completion_tokens}) on `tier`; None when it cannot
    be priced (no table, no price for the tier, or a token-priced tier with no usage reported)."""
    if table is None:
        return None
    price = table.tiers.get(ModelTier(tier))
    if price is None:
        return None
    if isinstance(price, SelfHostedPrice):
        return price.request_usd()
    if not usage:
        return None
    return price.request_usd(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
