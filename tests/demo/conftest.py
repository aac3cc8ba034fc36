"""A running baton for the CLI and README tests: Git repo, kubesim, API, appliers."""

from tests.demo.live_server import live

__all__ = ["live"]
