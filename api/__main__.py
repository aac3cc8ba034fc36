"""`python -m api`: serve the REST API (BATON_API_HOST / BATON_API_PORT, default
127.0.0.1:8080), with the database and tokens configured as everywhere else."""

from __future__ import annotations

import logging
import os

from aiohttp import web

from api.app import init_app


def main() -> None:
    """Run the server until interrupted."""
    logging.basicConfig(level=os.environ.get("BATON_LOG_LEVEL", "INFO"))
    host = os.environ.get("BATON_API_HOST", "127.0.0.1")
    port = int(os.environ.get("BATON_API_PORT", "8080"))
    web.run_app(init_app(), host=host, port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
