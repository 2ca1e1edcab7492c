"""Model backends: one class per inference API, all implementing `orchestrator.ports.Backend`.

    VllmBackend(base_url, model, tier=ModelTier.SHADOW_SELF, session=None, ...)
    BedrockBackend(model_id, tier, region="us-east-1", endpoint_url=None, ...)
    SageMakerBackend(endpoint_name, tier, region="us-east-1", endpoint_url=None, ...)

Common keyword arguments: max_attempts (3), timeout_s (30, per attempt), base_delay_s (0.1),
max_delay_s (2.0). Failures are `BackendError`s whose `kind` the circuit breaker reads.
"""
from orchestrator.backends.base import RetryingBackend, classify
from orchestrator.backends.bedrock import BedrockBackend
from orchestrator.backends.sagemaker import SageMakerBackend
from orchestrator.backends.vllm import VllmBackend, new_session

__all__ = ["BedrockBackend", "RetryingBackend", "SageMakerBackend", "VllmBackend", "classify",
           "new_session"]
