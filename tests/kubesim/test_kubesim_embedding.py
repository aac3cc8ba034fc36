"""The Python API for embedding: named clusters in a thread, knobs, kubeconfig."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import urlopen

import yaml
from ks_helpers import kubectl_binary

from kubesim import ControllerTiming, Faults, start_clusters


def test_three_named_clusters_from_one_process(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    with start_clusters(
        ["dev", "staging", "prod"],
        kubeconfig_path=kubeconfig,
        timing=ControllerTiming.fast(),
        faults=Faults(seed=1),
    ) as handle:
        assert handle.kubeconfig_path == kubeconfig
        config = yaml.safe_load(kubeconfig.read_text())
        assert [c["name"] for c in config["contexts"]] == ["dev", "staging", "prod"]
        servers = {c["name"]: c["cluster"]["server"] for c in config["clusters"]}
        assert servers["prod"] == handle.url("prod")
        # one port each: kubectl's discovery cache is keyed by host and port
        assert len({urlparse(url).port for url in servers.values()}) == 3
        # the path form reaches a cluster from any port
        by_path = f"{handle.url('dev')}/clusters/prod/api/v1/namespaces/default"
        with urlopen(by_path, timeout=10) as answer:
            assert json.load(answer)["metadata"]["name"] == "default"
        # objects made from Python go through the server's loop
        handle.call(
            lambda: handle.cluster("staging").create(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "seeded", "namespace": "default"},
                    "data": {"k": "v"},
                }
            )
        )
        found = {}
        for context in ("dev", "staging"):
            done = subprocess.run(
                [
                    kubectl_binary(),
                    "--kubeconfig",
                    str(kubeconfig),
                    "--context",
                    context,
                    "--cache-dir",
                    str(tmp_path / "cache"),
                    "get",
                    "configmaps",
                    "-o",
                    "json",
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            found[context] = [i["metadata"]["name"] for i in json.loads(done.stdout)["items"]]
        assert found == {"dev": [], "staging": ["seeded"]}
        assert handle.cluster("prod").timing.step == ControllerTiming.fast().step


def test_a_kubeconfig_kubesim_wrote_for_itself_goes_when_it_stops(tmp_path: Path) -> None:
    with start_clusters(["dev"], timing=ControllerTiming.fast()) as own:
        written = own.kubeconfig_path
        assert yaml.safe_load(written.read_text())["current-context"] == "dev"
    assert not written.parent.exists(), "its folder is left behind"
    named = tmp_path / "kubeconfig"
    with start_clusters(["dev"], kubeconfig_path=named, timing=ControllerTiming.fast()):
        pass
    assert named.exists(), "a kubeconfig the caller named is the caller's"


def test_a_fresh_cluster_has_what_kubectl_users_expect(tmp_path: Path) -> None:
    timing = ControllerTiming.fast()
    timing.nodes = 2
    with start_clusters(["only"], kubeconfig_path=tmp_path / "kc", timing=timing) as handle:
        base = [
            kubectl_binary(),
            "--kubeconfig",
            str(tmp_path / "kc"),
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
        nodes = subprocess.run(
            [*base, "get", "nodes"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
        assert nodes.count(" Ready ") == 2 and "control-plane" in nodes
        services = subprocess.run(
            [*base, "get", "services", "-o", "name"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
        assert services == ["service/kubernetes"]
        assert handle.cluster("only").timing.nodes == 2
