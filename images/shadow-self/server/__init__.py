"""The Shadow Self SageMaker container: vLLM generation plus pooled hidden states."""
