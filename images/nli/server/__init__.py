"""The NLI SageMaker container: a DeBERTa-MNLI three-way classifier."""
