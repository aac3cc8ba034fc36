"""Choose how to render a release's manifests folder for one environment, and do it.

Where it sits: the watcher renders every new release for each environment of the app
(a failure becomes ``ReleaseRejected``); the applier renders the desired release again.
Input is the folder's files at the release's sha (``{relative path: bytes}``).

Rules, per environment ``env``:
- ``overlays/<env>/`` with a kustomization: that kustomization alone (it pulls in its base);
- otherwise the base: a kustomization at the root is built, else every ``*.yaml``/``*.yml``
  outside ``overlays/`` is read as plain multi-document YAML;
- plain YAML in ``overlays/<env>/`` (no kustomization there) is added on top: an overlay
  object replaces the base object with the same group, kind, namespace and name.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.render import kustomize
from engine.render.objects import (
    Rendered,
    RenderedObject,
    check_unique,
    default_namespaces,
    finish,
    merge_layers,
)
from engine.render.yamldocs import parse_objects

_YAML_SUFFIXES = (".yaml", ".yml")


def render_manifests(
    files: Mapping[str, bytes],
    *,
    environment: str | None,
    namespace: str | None = None,
    prefix: str = ".",
) -> Rendered:
    """Objects in apply order and digest; RenderError names file and line on a mistake.

    ``prefix`` is the manifests path inside the repository, used only in messages so they
    name files as the author knows them.
    """
    overlay_dir = f"overlays/{environment}" if environment else None
    if overlay_dir and kustomize.kustomization_in(files, overlay_dir):
        built = kustomize.build(files, folder=overlay_dir, prefix=prefix)
        objects = default_namespaces(built, namespace=namespace, crds=built)
        check_unique(objects)
        return finish(objects)
    if kustomize.kustomization_in(files, ""):
        base = kustomize.build(files, folder="", prefix=prefix)
    else:
        base = _plain(files, prefix=prefix, under="", skip="overlays/")
    overlay = []
    if overlay_dir:
        overlay = _plain(files, prefix=prefix, under=overlay_dir + "/", skip=None)
    crds = [*base, *overlay]
    base = default_namespaces(base, namespace=namespace, crds=crds)
    check_unique(base)
    overlay = default_namespaces(overlay, namespace=namespace, crds=crds)
    check_unique(overlay)
    return finish(merge_layers(base, overlay))


def _plain(
    files: Mapping[str, bytes], *, prefix: str, under: str, skip: str | None
) -> list[RenderedObject]:
    """Objects of the YAML files below ``under`` (not below ``skip``), in path order."""
    out: list[RenderedObject] = []
    for rel in sorted(files):
        if not rel.startswith(under) or not rel.endswith(_YAML_SUFFIXES):
            continue
        if skip is not None and rel.startswith(skip):
            continue
        shown = rel if prefix in ("", ".") else f"{prefix}/{rel}"
        out.extend(parse_objects(files[rel], file=shown))
    return out
