"""Put this directory on the Ray head's PYTHONPATH (the RayService manifest does) to bound HAProxy's
connections to each replica: orchestrator/ingress_limits.py, set by the CATO_HAPROXY_* environment."""
from orchestrator.ingress_limits import TEMPLATE_MODULE, on_import, patch_module

on_import(TEMPLATE_MODULE, patch_module)
