"""A Kubernetes JSON API stand-in for the sandbox and the tests.

No kube-apiserver can be installed on these machines (see the notes), so this stdlib HTTP
server speaks enough of the Kubernetes wire protocol that the official `kubernetes` Python
client (and kubectl's JSON paths) work against it unchanged: discovery, namespaces,
configmaps, secrets, services, serviceaccounts, deployments (+ `scale`, `status`), CRDs
(creating one serves its resource, validated against its schema), merge / JSON /
strategic-merge patch, server-side apply with field managers and conflicts, and the real
error bodies (404 with a `Status`, 409, 415, 422).

Two tiny controllers stand in for kube-controller-manager and the KubeRay operator: a
Deployment's `status.readyReplicas` follows `spec.replicas` after `deployment_delay`
seconds, a RayService reports Ready after `rayservice_delay`. Zero-valued status fields are
omitted, as the real API does, so clients see `ready_replicas is None`.

What it is not: no watch, no protobuf (so helm cannot use it), no admission webhooks, no
CEL (`x-kubernetes-validations`) rules, no authn/z, no pods.

    python -m cato_sandbox.kube_api --host 127.0.0.1 --port 8001
"""
from cato_sandbox.kube_api.server import make_server, serve

__all__ = ["make_server", "serve"]
