"""`python -m kubesim` serves named clusters and writes a kubeconfig kubectl can use."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from ks_helpers import kubectl_binary


def test_cli_serves_named_clusters_as_kubeconfig_contexts(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubesim",
            "--cluster",
            "dev",
            "--cluster",
            "prod",
            "--kubeconfig",
            str(kubeconfig),
            "--failing-image",
            ":broken",
            "--step",
            "0.05",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        lines = [server.stdout.readline() for _ in range(3)]
        assert lines[0].startswith("cluster dev: http://127.0.0.1:")
        assert lines[2].strip() == f"kubeconfig: {kubeconfig}"
        contexts = subprocess.run(
            [
                kubectl_binary(),
                "--kubeconfig",
                str(kubeconfig),
                "config",
                "get-contexts",
                "-o",
                "name",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
        assert contexts == ["dev", "prod"]
        namespaces = subprocess.run(
            [
                kubectl_binary(),
                "--kubeconfig",
                str(kubeconfig),
                "--context",
                "prod",
                "--cache-dir",
                str(tmp_path / "cache"),
                "get",
                "namespaces",
                "-o",
                "name",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
        assert "namespace/default" in namespaces
    finally:
        server.terminate()
        started = time.monotonic()
        code = server.wait(timeout=15)
    assert code == 0 and time.monotonic() - started < 10
