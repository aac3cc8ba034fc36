"""`baton serve`: run the REST API (registered as a `baton.commands` entry point).

Where it sits: the process entry of the HTTP side; `python -m api` does the same.
"""

from __future__ import annotations

import logging
import os

import click
from aiohttp import web

from api.app import init_app


@click.command()
@click.option("--host", default=lambda: os.environ.get("BATON_API_HOST", "127.0.0.1"),
              show_default="BATON_API_HOST or 127.0.0.1", help="address to listen on")
@click.option("--port", type=int, default=lambda: int(os.environ.get("BATON_API_PORT", "8080")),
              show_default="BATON_API_PORT or 8080", help="port to listen on")
def serve(host: str, port: int) -> None:
    """Serve the REST API under /api/v1 until interrupted."""
    logging.basicConfig(level=os.environ.get("BATON_LOG_LEVEL", "INFO"))
    web.run_app(init_app(), host=host, port=port, access_log=None, print=None)
