"""The kubectl contract: what the real kubectl sees, against kubesim or a real cluster.

Every test runs the real kubectl binary. With BATON_TEST_KUBECONFIG set, the `kube`
fixture points at that cluster instead, and the same assertions must hold there.
"""

from __future__ import annotations

import json

from ks_helpers import FAILING_IMAGE, GOOD_IMAGE, Kube, configmap, deployment


def _managers(obj: dict[str, object]) -> dict[str, str]:
    fields = obj["metadata"]["managedFields"]  # type: ignore[index]
    return {e["manager"]: e["operation"] for e in fields}  # type: ignore[union-attr]


def test_server_side_apply_twice_keeps_one_object_and_the_field_manager(kube: Kube) -> None:
    manifest = configmap("settings", color="blue")
    first = kube.run("apply", "--server-side", "--field-manager=baton", "-f", "-", stdin=manifest)
    assert "configmap/settings serverside-applied" in first.stdout
    before = kube.get_json("configmap", "settings", "--show-managed-fields")
    kube.run("apply", "--server-side", "--field-manager=baton", "-f", "-", stdin=manifest)
    after = kube.get_json("configmap", "settings", "--show-managed-fields")
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["data"] == {"color": "blue"}
    assert _managers(after) == {"baton": "Apply"}


def test_apply_by_another_manager_conflicts_until_forced(kube: Kube) -> None:
    kube.run(
        "apply",
        "--server-side",
        "--field-manager=baton",
        "-f",
        "-",
        stdin=configmap("settings", color="blue"),
    )
    clash = kube.run(
        "apply",
        "--server-side",
        "--field-manager=intruder",
        "-f",
        "-",
        stdin=configmap("settings", color="red"),
        check=False,
    )
    assert clash.returncode != 0
    assert "conflict" in clash.stderr.lower()
    assert '"baton"' in clash.stderr and ".data.color" in clash.stderr
    assert kube.get_json("configmap", "settings")["data"] == {"color": "blue"}

    kube.run(
        "apply",
        "--server-side",
        "--field-manager=intruder",
        "--force-conflicts",
        "-f",
        "-",
        stdin=configmap("settings", color="red"),
    )
    forced = kube.get_json("configmap", "settings", "--show-managed-fields")
    assert forced["data"] == {"color": "red"}
    owners = {e["manager"]: e["fieldsV1"] for e in forced["metadata"]["managedFields"]}
    assert "f:color" in json.dumps(owners["intruder"])
    assert "f:color" not in json.dumps(owners.get("baton", {}))


def test_applier_that_stops_sending_a_field_removes_it(kube: Kube) -> None:
    kube.run(
        "apply",
        "--server-side",
        "--field-manager=baton",
        "-f",
        "-",
        stdin=configmap("settings", color="blue", size="L"),
    )
    kube.run(
        "apply",
        "--server-side",
        "--field-manager=baton",
        "-f",
        "-",
        stdin=configmap("settings", color="blue"),
    )
    assert kube.get_json("configmap", "settings")["data"] == {"color": "blue"}


def test_get_with_label_selectors(kube: Kube) -> None:
    for name, tier in [("a", "web"), ("b", "db"), ("c", "web")]:
        kube.run(
            "apply",
            "--server-side",
            "-f",
            "-",
            stdin=configmap(name, labels=f"tier: {tier}, owner: baton", k="v"),
        )
    names = {
        sel: sorted(i["metadata"]["name"] for i in kube.get_json("configmaps", "-l", sel)["items"])
        for sel in [
            "tier=web",
            "tier!=web,owner",
            "tier in (db,cache)",
            "tier notin (web)",
            "owner",
            "!owner",
        ]
    }
    assert names["tier=web"] == ["a", "c"]
    assert names["tier!=web,owner"] == ["b"]
    assert names["tier in (db,cache)"] == ["b"]
    assert names["tier notin (web)"] == ["b"]
    assert names["owner"] == ["a", "b", "c"]
    assert "a" not in names["!owner"]


def test_delete_removes_the_object(kube: Kube) -> None:
    kube.run("apply", "--server-side", "-f", "-", stdin=configmap("gone", k="v"))
    kube.run("delete", "configmap", "gone")
    missing = kube.run("get", "configmap", "gone", check=False)
    assert missing.returncode != 0
    assert "NotFound" in missing.stderr


def test_diff_server_side_reports_changes_with_exit_code_one(kube: Kube) -> None:
    kube.run(
        "apply",
        "--server-side",
        "--field-manager=baton",
        "-f",
        "-",
        stdin=configmap("settings", color="blue"),
    )
    same = kube.run(
        "diff",
        "--server-side",
        "--field-manager=baton",
        "-f",
        "-",
        stdin=configmap("settings", color="blue"),
        check=False,
    )
    assert same.returncode == 0, same.stderr
    changed = kube.run(
        "diff",
        "--server-side",
        "--field-manager=baton",
        "-f",
        "-",
        stdin=configmap("settings", color="green"),
        check=False,
    )
    assert changed.returncode == 1, changed.stderr
    assert "-  color: blue" in changed.stdout and "+  color: green" in changed.stdout
    # diff is a dry run: nothing changed
    assert kube.get_json("configmap", "settings")["data"] == {"color": "blue"}


def test_rollout_status_finishes_for_a_good_image(kube: Kube) -> None:
    kube.run("apply", "--server-side", "-f", "-", stdin=deployment("web", replicas=2))
    done = kube.run("rollout", "status", "deployment/web", "--timeout=90s")
    assert "successfully rolled out" in done.stdout
    status = kube.get_json("deployment", "web")["status"]
    assert status["readyReplicas"] == status["updatedReplicas"] == 2
    assert status["availableReplicas"] == 2


def test_rollout_status_fails_for_a_failing_image(kube: Kube) -> None:
    kube.run(
        "apply",
        "--server-side",
        "-f",
        "-",
        stdin=deployment("broken", image=FAILING_IMAGE, deadline=2),
    )
    failed = kube.run("rollout", "status", "deployment/broken", "--timeout=90s", check=False)
    assert failed.returncode != 0
    assert "exceeded its progress deadline" in failed.stderr
    conditions = {
        c["type"]: c for c in kube.get_json("deployment", "broken")["status"]["conditions"]
    }
    assert conditions["Progressing"]["reason"] == "ProgressDeadlineExceeded"
    assert conditions["Available"]["status"] == "False"


def test_wait_for_condition_available(kube: Kube) -> None:
    kube.run("apply", "--server-side", "-f", "-", stdin=deployment("web", replicas=1))
    waited = kube.run("wait", "--for=condition=Available", "deployment/web", "--timeout=90s")
    assert "condition met" in waited.stdout


def test_wait_for_available_times_out_for_a_failing_image(kube: Kube) -> None:
    kube.run(
        "apply",
        "--server-side",
        "-f",
        "-",
        stdin=deployment("broken", image=FAILING_IMAGE, deadline=30),
    )
    waited = kube.run(
        "wait", "--for=condition=Available", "deployment/broken", "--timeout=2s", check=False
    )
    assert waited.returncode != 0
    assert "timed out" in waited.stderr


def test_get_json_shows_server_set_fields(kube: Kube) -> None:
    kube.run("apply", "--server-side", "-f", "-", stdin=deployment("web", replicas=1))
    obj = kube.get_json("deployment", "web")
    meta = obj["metadata"]
    assert meta["uid"] and meta["creationTimestamp"] and meta["resourceVersion"]
    assert meta["generation"] == 1
    assert obj["spec"]["strategy"]["type"] == "RollingUpdate"
    listed = kube.get_json("deployments")
    assert listed["kind"] == "List" and [i["metadata"]["name"] for i in listed["items"]] == ["web"]


def test_imperative_create_commands(kube: Kube) -> None:
    # These kubectl commands send protobuf bodies, unlike apply.
    kube.run("create", "configmap", "plain", "--from-literal=color=blue")
    kube.run("create", "secret", "generic", "creds", "--from-literal=password=s3cret")
    kube.run("create", "deployment", "made", "--image=" + GOOD_IMAGE, "--replicas=0", "--port=8080")
    assert kube.get_json("configmap", "plain")["data"] == {"color": "blue"}
    secret = kube.get_json("secret", "creds")
    assert secret["data"] == {"password": "czNjcmV0"} and secret["type"] == "Opaque"
    spec = kube.get_json("deployment", "made")["spec"]
    assert spec["replicas"] == 0
    container = spec["template"]["spec"]["containers"][0]
    assert container["image"] == GOOD_IMAGE
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]


def test_apply_with_an_unknown_field_fails(kube: Kube) -> None:
    typo = configmap("settings", color="blue").replace("\ndata:", "\ndta:")
    failed = kube.run("apply", "--server-side", "-f", "-", stdin=typo, check=False)
    assert failed.returncode != 0
    assert "dta" in failed.stderr
    assert kube.run("get", "configmap", "settings", check=False).returncode != 0


def test_apply_with_a_selector_that_does_not_match_fails(kube: Kube) -> None:
    broken = deployment("web").replace("matchLabels: {app: web}", "matchLabels: {app: other}")
    failed = kube.run("apply", "--server-side", "-f", "-", stdin=broken, check=False)
    assert failed.returncode != 0
    assert "selector" in failed.stderr and "Invalid" in failed.stderr


def test_server_side_apply_takes_over_from_client_side_apply(kube: Kube) -> None:
    kube.run("apply", "-f", "-", stdin=configmap("settings", color="blue"))
    moved = kube.run(
        "apply", "--server-side", "-f", "-", stdin=configmap("settings", color="green")
    )
    assert "serverside-applied" in moved.stdout
    after = kube.get_json("configmap", "settings", "--show-managed-fields")
    assert after["data"] == {"color": "green"}
    managers = {e["manager"] for e in after["metadata"]["managedFields"]}
    assert "kubectl" in managers and "kubectl-client-side-apply" not in managers


def test_rollout_undo_returns_to_the_previous_template(kube: Kube) -> None:
    kube.run("apply", "--server-side", "-f", "-", stdin=deployment("web", replicas=1))
    kube.run("rollout", "status", "deployment/web", "--timeout=90s")
    kube.run("set", "image", "deployment/web", "main=registry.k8s.io/pause:3.9")
    kube.run("rollout", "status", "deployment/web", "--timeout=90s")
    kube.run("rollout", "undo", "deployment/web")
    kube.run("rollout", "status", "deployment/web", "--timeout=90s")
    obj = kube.get_json("deployment", "web")
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == GOOD_IMAGE
    assert obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    history = kube.run("rollout", "history", "deployment/web").stdout.split()
    assert history[-2:] == ["3", "<none>"] and "1" not in history
    replica_sets = kube.get_json("replicasets", "-l", "app=web")["items"]
    assert sorted(rs["spec"]["replicas"] for rs in replica_sets) == [0, 1]
    pods = [
        p
        for p in kube.get_json("pods", "-l", "app=web")["items"]
        if not p["metadata"].get("deletionTimestamp")
    ]  # a real kubelet takes a moment
    assert [p["spec"]["containers"][0]["image"] for p in pods] == [GOOD_IMAGE]


def test_client_side_apply_of_a_changed_list(kube: Kube) -> None:
    first = deployment("web", replicas=1)
    kube.run("apply", "-f", "-", stdin=first)
    second = first.replace(
        "- containerPort: 8080", "- containerPort: 8080\n        - containerPort: 9090"
    )
    kube.run("apply", "-f", "-", stdin=second)
    ports = kube.get_json("deployment", "web")["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert [p["containerPort"] for p in ports] == [8080, 9090]


def test_apply_with_a_misspelt_nested_field_fails(kube: Kube) -> None:
    typo = deployment("web").replace("image:", "imagee:")
    failed = kube.run("apply", "--server-side", "-f", "-", stdin=typo, check=False)
    assert failed.returncode != 0 and "imagee" in failed.stderr


def test_explain_describes_built_in_fields(kube: Kube) -> None:
    explained = kube.run("explain", "deployment.spec.template.spec.containers.image").stdout
    assert "FIELD: image <string>" in explained
    assert "Container image name" in explained


def test_a_server_side_dry_run_apply_answers_as_an_apply_and_stores_nothing(kube: Kube) -> None:
    kube.run(
        "apply",
        "--server-side",
        "--field-manager=baton",
        "-f",
        "-",
        stdin=configmap("settings", color="blue"),
    )
    before = kube.get_json("configmap", "settings")
    changed = kube.run(
        "apply",
        "--server-side",
        "--field-manager=baton",
        "--dry-run=server",
        "-o",
        "json",
        "-f",
        "-",
        stdin=configmap("settings", color="green"),
    )
    would = json.loads(changed.stdout)
    assert would["data"] == {"color": "green"}
    assert would["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert kube.get_json("configmap", "settings")["data"] == {"color": "blue"}

    created = kube.run(
        "apply",
        "--server-side",
        "--field-manager=baton",
        "--dry-run=server",
        "-f",
        "-",
        stdin=configmap("fresh", color="red"),
    )
    assert "configmap/fresh serverside-applied (server dry run)" in created.stdout
    missing = kube.run("get", "configmap", "fresh", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr

    invalid = deployment("web").replace("matchLabels: {app: web}", "matchLabels: {app: other}")
    refused = kube.run(
        "apply",
        "--server-side",
        "--field-manager=baton",
        "--dry-run=server",
        "-f",
        "-",
        stdin=invalid,
        check=False,
    )
    assert refused.returncode != 0
    assert "is invalid" in refused.stderr and "selector" in refused.stderr
    assert kube.run("get", "deployment", "web", check=False).returncode != 0
