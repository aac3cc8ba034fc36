"""A user's health check in Argo CD's Lua format decides a live object's health in place
of baton's built-in reading of its kind."""

from __future__ import annotations

import pytest

from engine.domain.enums import Health
from engine.health import CustomChecks
from tests.appliers.applier_stage import Stage, config_map, web

pytestmark = pytest.mark.timeout(60)

SETTINGS_CHECK = """\
local hs = {status = "Healthy", message = "value is " .. obj.data.value}
if obj.data.value == "broken" then
  hs.status = "Degraded"
end
return hs
"""


async def test_a_users_check_decides_the_targets_health(stage: Stage) -> None:
    stage.app({"dev": {"auto_promote": True}})
    stage.health = CustomChecks()
    stage.health.add("", "ConfigMap", SETTINGS_CHECK, name="_/ConfigMap/health.lua")
    async with stage.appliers():
        await stage.release({"web.yaml": web("web:1"), "config.yaml": config_map(value="broken")})

        async def degraded() -> bool:
            try:
                return (await stage.target("dev")).health == Health.DEGRADED
            except LookupError:
                return False

        # without the check a ConfigMap is Healthy once it exists
        await stage.until(degraded, what="dev Degraded by the user's check")
    target = await stage.target("dev")
    assert (
        target.health_reasons[0]
        == f"ConfigMap {stage.name}-dev/settings: Degraded: value is broken"
    )
