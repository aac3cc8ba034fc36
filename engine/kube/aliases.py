"""A kubeconfig for baton from a cluster's own: the server reachable by name, one context per
cluster name that baton's environments use.

Where it sits: run before `baton serve` where the kubeconfig comes from elsewhere — k3s in
docker-compose writes one whose server is 127.0.0.1 and whose only context is `default`,
while the sample environments name `kubesim:dev`, `kubesim:staging`, `kubesim:prod`
(contexts `dev`, `staging`, `prod` once a kubeconfig is given).

    python -m engine.kube.aliases SOURCE TARGET [--server URL] [--contexts dev,staging,prod]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import yaml


def aliased(config: dict[str, Any], *, server: str | None, contexts: list[str]) -> dict[str, Any]:
    """`config` with its server replaced and its current context copied under each name."""
    out = dict(config)
    if server:
        out["clusters"] = [
            {**c, "cluster": {**c.get("cluster", {}), "server": server}}
            for c in config.get("clusters", [])
        ]
    current = config.get("current-context")
    source = next((c for c in config.get("contexts", []) if c.get("name") == current), None)
    if source is None:
        raise SystemExit(f"the kubeconfig has no current context ({current!r})")
    known = {c["name"] for c in config.get("contexts", [])}
    out["contexts"] = list(config.get("contexts", [])) + [
        {**source, "name": name} for name in contexts if name not in known
    ]
    return out


def main() -> None:
    """Wait for SOURCE (the cluster may still be starting), write TARGET."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--server", default=None)
    parser.add_argument("--contexts", default="dev,staging,prod")
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for SOURCE")
    args = parser.parse_args()
    deadline = time.monotonic() + args.wait
    while not args.source.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{args.source} did not appear within {args.wait:.0f}s")
        time.sleep(1)
    config = yaml.safe_load(args.source.read_text())
    names = [n for n in args.contexts.split(",") if n]
    args.target.parent.mkdir(parents=True, exist_ok=True)
    args.target.write_text(yaml.safe_dump(aliased(config, server=args.server, contexts=names)))
    os.chmod(args.target, 0o600)


if __name__ == "__main__":
    main()
