"""The manifests of a stored release, for the applier: read at the sha, then rendered.

Where it sits: after the watcher (which made the release and pinned its commit in the
app's mirror) and before server-side apply. Reads only the mirror's object database —
never a working tree, never the network — so it renders exactly what the release was,
even after a force-push. Blocking: run it in an executor.
"""

from __future__ import annotations

from pathlib import Path

from engine.domain.pipeline import AppSpec
from engine.git.credentials import GitAuth
from engine.git.mirror import GitSourceError, Mirror
from engine.render import Rendered, render_manifests


def mirror_path(home: Path, app: str) -> Path:
    """Where the watcher keeps ``app``'s mirror under ``BATON_HOME``."""
    return home / "repos" / f"{app}.git"


def render_release(*, home: Path, app: AppSpec, sha: str, environment: str) -> Rendered:
    """Objects in apply order and digest of release ``sha`` in ``environment``.

    Raises GitSourceError when the mirror does not hold the commit (the watcher has not
    fetched it), RenderError when the manifests do not render.
    """
    directory = mirror_path(home, app.name)
    if not (directory / "HEAD").exists():  # reading must not create one (the watcher does)
        raise GitSourceError(f"there is no mirror of {app.name} here (the Git watcher makes it)")
    mirror = Mirror(directory=directory, url=app.repo, branch=app.branch, auth=GitAuth())
    try:
        if not mirror.has_commit(sha):
            raise GitSourceError(f"the mirror of {app.name} holds no commit {sha[:12]}")
        files = mirror.read_tree(sha, app.path)
    finally:
        mirror.close()
    env = next(e for e in app.environments if e.name == environment)
    return render_manifests(
        files, environment=environment, namespace=env.namespace, prefix=app.path
    )
