"""`python -m engine.kube.aliases`: a k3s kubeconfig reaches the cluster by its service name
under the context names of the sample environments (docker-compose.yml runs it)."""

from __future__ import annotations

from engine.kube.aliases import aliased


def test_the_kubeconfig_aliases_reach_k3s_under_the_sample_context_names() -> None:
    k3s = {
        "apiVersion": "v1",
        "current-context": "default",
        "clusters": [{"name": "default", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}],
        "users": [{"name": "default", "user": {"token": "t"}}],
    }
    out = aliased(k3s, server="https://k3s:6443", contexts=["dev", "staging", "prod"])
    assert {c["name"] for c in out["contexts"]} == {"default", "dev", "staging", "prod"}
    assert out["clusters"][0]["cluster"]["server"] == "https://k3s:6443"
    assert all(c["context"]["cluster"] == "default" for c in out["contexts"])
