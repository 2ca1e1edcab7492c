"""Offline evaluations: routing (routing_eval) and the semantic cache (cache_eval)."""
