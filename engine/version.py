"""The installed baton's version, as the server (`/healthz`) and the CLI (`baton version`)
report it."""

from __future__ import annotations

from importlib import metadata


def installed_version() -> str:
    """The installed baton's version; "unknown" when it runs from sources not installed."""
    try:
        return metadata.version("baton")
    except metadata.PackageNotFoundError:
        return "unknown"
