"""/readyz shows the background tasks: failing while the database is away, running after."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import init_app
from api.config import ApiConfig
from engine.metrics import REGISTRY
from engine.settings import Settings
from engine.supervisor import Supervisor

pytestmark = pytest.mark.timeout(60)


async def readyz(client: TestClient) -> tuple[int, dict[str, Any]]:
    response = await client.get("/api/v1/readyz")
    return response.status, await response.json()


async def test_readyz_shows_projection_loops_failing_through_an_outage_and_running_after(
    database_url: str, pg_admin_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url, home=tmp_path, environments_dir=tmp_path)
    supervisor = Supervisor(healthy_after=0.3)
    app = init_app(settings=settings, config=ApiConfig(ready_max_lag=1000), supervisor=supervisor)
    admin = await asyncpg.connect(database_url)
    database = await admin.fetchval("SELECT current_database()")
    await admin.close()
    admin = await asyncpg.connect(pg_admin_url)
    try:
        async with TestClient(TestServer(app)) as client:
            status, body = await readyz(client)
            assert status == 200, body
            audit = body["tasks"]["projection:audit"]
            assert audit == {
                "state": "running",
                "restarts": 0,
                "failing_since": None,
                "last_error": None,
            }
            assert "tasks" not in body["checks"]
            assert REGISTRY.get_sample_value("baton_task_up", {"task": "projection:audit"}) == 1

            await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                database,
            )
            async with asyncio.timeout(10):
                while (await readyz(client))[1]["tasks"]["projection:audit"]["state"] != "failing":
                    await asyncio.sleep(0.1)
            status, body = await readyz(client)
            assert status == 503 and not body["checks"]["database"]["ok"]
            audit = body["tasks"]["projection:audit"]
            assert audit["failing_since"] is not None
            assert "not currently accepting connections" in audit["last_error"]
            assert REGISTRY.get_sample_value("baton_task_up", {"task": "projection:audit"}) == 0

            await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
            async with asyncio.timeout(20):
                while True:
                    status, body = await readyz(client)
                    # every task runs again (a one-off that has done its work is "stopped")
                    states = {t["state"] for t in body["tasks"].values()}
                    if status == 200 and states <= {"running", "stopped"}:
                        break
                    await asyncio.sleep(0.1)
            assert body["tasks"]["projection:audit"]["restarts"] >= 1
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await admin.close()
        await supervisor.stop()
