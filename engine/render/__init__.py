"""Manifest rendering: the Kubernetes objects of one release for one environment.

``render_manifests(files, environment=..., namespace=...)`` turns the files of a release's
manifests folder (read at the release's sha by ``engine.git``) into :class:`Rendered`:
objects in apply order plus a stable digest. Mistakes raise :class:`RenderError` naming
file, line and reason; the watcher records those as a rejected release.
"""

from engine.render.objects import Rendered, RenderedObject, RenderError
from engine.render.pipeline import render_manifests

__all__ = ["RenderError", "Rendered", "RenderedObject", "render_manifests"]
