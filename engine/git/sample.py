"""The demo's sample application repository: manifests with per-environment overlays.

Creates a bare repository (what baton watches, as it would watch a Git server) and a
working clone to commit into, like a developer pushing changes.
`python -m engine.git.sample ROOT` creates one with a first release, unless ROOT already
holds it (docker compose's baton watches it, as BATON_DEMO_REPO).
"""

from __future__ import annotations

import argparse
import textwrap
from dataclasses import dataclass
from pathlib import Path

from git import Actor, Repo

AUTHOR = Actor("Dana Developer", "dana@example.com")

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  labels: {{app: shop}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: shop}}
  template:
    metadata:
      labels: {{app: shop}}
    spec:
      containers:
        - name: shop
          image: registry.example.com/shop:{version}
          ports: [{{containerPort: 8080}}]
          envFrom: [{{configMapRef: {{name: shop-config}}}}]
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector: {app: shop}
  ports: [{port: 80, targetPort: 8080}]
"""
CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-config
data:
  GREETING: "{greeting}"
"""


@dataclass(frozen=True)
class SampleRepo:
    """The bare repository baton watches and the clone the demo commits from."""

    remote: Path
    work: Path
    #: the branch the clone commits to and pushes
    branch: str = "main"

    def commit(self, files: dict[str, str], message: str) -> str:
        """Write `files` (paths under the repository), commit, push; return the SHA."""
        repo = Repo(self.work)
        for name, text in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            repo.index.add([name])
        commit = repo.index.commit(message, author=AUTHOR, committer=AUTHOR)
        repo.remote("origin").push(self.branch).raise_if_error()
        return commit.hexsha

    def on_branch(self, name: str) -> SampleRepo:
        """A clone of its own on a new branch `name`, pushed at the current commit."""
        work = self.work.with_name(f"{self.work.name}-{name}")
        clone = Repo.clone_from(self.remote, work, branch=self.branch)
        clone.git.checkout("-b", name)
        clone.remote("origin").push(name).raise_if_error()
        return SampleRepo(remote=self.remote, work=work, branch=name)

    def release(self, version: str, greeting: str, message: str) -> str:
        """Commit the manifests of one version of the shop."""
        return self.commit(manifests(version, greeting), message)


def manifests(version: str, greeting: str) -> dict[str, str]:
    """The shop's manifests: base, plus a prod overlay that runs three replicas."""
    return {
        "deploy/deployment.yaml": DEPLOYMENT.format(replicas=2, version=version),
        "deploy/service.yaml": SERVICE,
        "deploy/configmap.yaml": CONFIG.format(greeting=greeting),
        "deploy/overlays/prod/deployment.yaml": DEPLOYMENT.format(replicas=3, version=version),
        "README.md": textwrap.dedent("""\
            # shop
            The demo app that baton promotes: `deploy/` holds its manifests,
            `deploy/overlays/<env>/` what differs per environment.
            """),
    }


def create_sample_repo(root: Path) -> SampleRepo:
    """A new bare repository `root/shop.git` and its working clone `root/shop`."""
    root.mkdir(parents=True, exist_ok=True)
    remote = root / "shop.git"
    Repo.init(remote, bare=True, initial_branch="main")
    work = root / "shop"
    repo = Repo.clone_from(str(remote), work)
    repo.git.checkout("-b", "main")
    with repo.config_writer() as config:
        config.set_value("user", "name", AUTHOR.name)
        config.set_value("user", "email", AUTHOR.email)
    return SampleRepo(remote=remote, work=work)


def main() -> None:
    """Create ROOT/shop.git with the shop's release 1.0.0, unless it is there already."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("root", type=Path)
    args = parser.parse_args()
    if (args.root / "shop.git").exists():
        print(f"{args.root / 'shop.git'} is there already")
        return
    sha = create_sample_repo(args.root).release("1.0.0", "Welcome to the shop", "shop 1.0.0")
    print(f"{args.root / 'shop.git'}: release 1.0.0 at {sha[:12]}")


if __name__ == "__main__":
    main()
