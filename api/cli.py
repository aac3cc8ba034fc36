"""`baton serve`: run the REST API (registered as a `baton.commands` entry point).

Where it sits: the process entry of the HTTP side; `python -m api` does the same.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace

import click
from aiohttp import web

from api.app import init_app
from api.config import ApiConfig


@click.command()
@click.option("--host", default=lambda: os.environ.get("BATON_API_HOST", "127.0.0.1"),
              show_default="BATON_API_HOST or 127.0.0.1", help="address to listen on")
@click.option("--port", type=int, default=lambda: int(os.environ.get("BATON_API_PORT", "8080")),
              show_default="BATON_API_PORT or 8080", help="port to listen on")
@click.option("--watch", is_flag=True, default=False,
              help="also run the Git watcher here, so push webhooks poll at once "
              "(BATON_API_WATCH_GIT=1 does the same)")
def serve(host: str, port: int, watch: bool) -> None:
    """Serve the REST API under /api/v1 until interrupted."""
    logging.basicConfig(level=os.environ.get("BATON_LOG_LEVEL", "INFO"))
    config = ApiConfig.from_env()
    if watch:
        config = replace(config, watch_git=True)
    web.run_app(init_app(config=config), host=host, port=port, access_log=None, print=None)
