"""The model names clients may send, and the tier each one means.

Clients move from LiteLLM without changing a line, so the names LiteLLM serves today
(`config/litellm.yaml`'s `model_name`s) pin the tier that backs them; `cato` and `auto` let the
orchestrator route by complexity; a tier's own id pins it too. Anything else is a 404, as
OpenAI answers an unknown model.
"""
from __future__ import annotations

from orchestrator.api_errors import ApiError
from orchestrator.ports import ModelTier

# config/litellm.yaml's model_list; tests/unit/test_chat_request.py keeps the two in step.
LEGACY_ALIASES: dict[str, ModelTier] = {
    "claude-3-haiku": ModelTier.BEDROCK_HAIKU,
    "claude-3-5-sonnet": ModelTier.BEDROCK_SONNET,
}
ROUTED_NAMES: tuple[str, ...] = ("cato", "auto")


class ModelCatalog:
    def __init__(self, aliases: dict[str, ModelTier], routed: tuple[str, ...] | list[str] = ROUTED_NAMES):
        self._pinned = {**{t.value: t for t in ModelTier}, **aliases}
        self._routed = tuple(routed)

    def resolve(self, name: str) -> ModelTier | None:
        """The tier a model name pins, or None when the orchestrator routes; unknown -> 404."""
        if name in self._routed:
            return None
        tier = self._pinned.get(name)
        if tier is None:
            raise ApiError(404, f"The model '{name[:100]}' does not exist. GET /v1/models lists the models "
                                "this gateway serves.", param="model", code="model_not_found")
        return tier

    def names(self) -> list[str]:
        return [*self._routed, *self._pinned]

    def card(self, name: str) -> dict:
        tier = self.resolve(name)
        return {"id": name, "object": "model", "created": 0, "owned_by": "cato",
                "cato": {"tier": tier.value if tier else None, "routed": tier is None}}

    def listing(self) -> dict:
        return {"object": "list", "data": [self.card(n) for n in self.names()]}
