"""The Python API for embedding: named clusters in a thread, knobs, kubeconfig."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml
from ks_helpers import kubectl_binary

from kubesim import ControllerTiming, Faults, start_clusters


def test_three_named_clusters_from_one_process(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    with start_clusters(["dev", "staging", "prod"], kubeconfig_path=kubeconfig,
                        timing=ControllerTiming.fast(), faults=Faults(seed=1)) as handle:
        assert handle.kubeconfig_path == kubeconfig
        config = yaml.safe_load(kubeconfig.read_text())
        assert [c["name"] for c in config["contexts"]] == ["dev", "staging", "prod"]
        servers = {c["name"]: c["cluster"]["server"] for c in config["clusters"]}
        assert servers["prod"] == handle.url("prod")
        # objects made from Python go through the server's loop
        handle.call(lambda: handle.cluster("staging").create(
            {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "seeded", "namespace": "default"}, "data": {"k": "v"}}))
        found = {}
        for context in ("dev", "staging"):
            done = subprocess.run(
                [kubectl_binary(), "--kubeconfig", str(kubeconfig), "--context", context,
                 "--cache-dir", str(tmp_path / "cache"), "get", "configmaps", "-o", "json"],
                capture_output=True, text=True, timeout=60, check=True)
            found[context] = [i["metadata"]["name"] for i in json.loads(done.stdout)["items"]]
        assert found == {"dev": [], "staging": ["seeded"]}
        assert handle.cluster("prod").timing.step == ControllerTiming.fast().step
