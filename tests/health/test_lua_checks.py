"""User-defined health checks in Argo CD's Lua format: verdicts, errors, limits, sandbox."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.config.health import compile_dir
from engine.domain.enums import Health
from engine.health import CustomChecks, assess
from engine.health.lua import Limits, LuaCompileError
from engine.render.yamldocs import load_all

CHECKS = Path(__file__).parent / "checks"
WIDGET = CHECKS / "example.com" / "Widget"


def widget(name: str) -> dict[str, Any]:
    (obj,) = load_all((WIDGET / "testdata" / f"{name}.yaml").read_text())
    return obj  # type: ignore[no-any-return]


@pytest.fixture
def checks() -> CustomChecks:
    """The test folder in Argo CD's layout, compiled."""
    compiled = CustomChecks()
    assert compile_dir(compiled, CHECKS, lambda *problem: pytest.fail(str(problem)))
    return compiled


def one(source: str, limits: Limits | None = None) -> tuple[CustomChecks, dict[str, Any]]:
    """Checks holding `source` as the check of example.com/Thing, and a Thing."""
    compiled = CustomChecks(limits)
    compiled.add("example.com", "Thing", source, name="thing.lua")
    return compiled, {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"}}


@pytest.mark.parametrize(
    ("fixture", "status", "message"),
    [
        ("healthy", Health.HEALTHY, "3 of 3 widgets ready"),
        ("progressing", Health.PROGRESSING, "spec not observed yet"),
        (
            "degraded",
            Health.DEGRADED,
            "QuotaExceeded: no room for 3 widgets (since 2026-11-30T10:00:00Z)",
        ),
    ],
)
def test_a_script_from_an_argo_cd_folder_decides_its_kind_and_is_named(
    checks: CustomChecks, fixture: str, status: Health, message: str
) -> None:
    result = assess(widget(fixture), checks)
    assert (result.status, result.message) == (status, message)
    assert result.rule == str(WIDGET / "health.lua")


def test_without_the_user_checks_a_custom_resource_is_not_judged_by_them() -> None:
    assert assess(widget("degraded")).rule != str(WIDGET / "health.lua")


def test_a_users_check_wins_over_the_built_in_rule_of_its_kind(checks: CustomChecks) -> None:
    deployment = yaml.safe_load(
        (CHECKS / "apps" / "Deployment" / "testdata" / "maintenance.yaml").read_text()
    )
    assert assess(deployment).rule == "built-in deployment"
    result = assess(deployment, checks)
    assert (result.status, result.message) == (Health.SUSPENDED, "under maintenance")


def test_a_core_group_check_lives_under_underscore(checks: CustomChecks) -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}}
    result = assess(config_map, checks)
    assert (result.status, result.message) == (Health.DEGRADED, "app.properties is missing")


def test_a_script_error_is_unknown_with_the_error_and_the_scripts_name() -> None:
    checks, thing = one("local hs = {}\nhs.status = obj.status.phase\nreturn hs\n")
    result = assess(thing, checks)
    assert result.status == Health.UNKNOWN
    assert "thing.lua" in result.message
    assert result.message == (
        "health check thing.lua failed: line 2: attempt to index field 'status' (a nil value)"
    )


def test_a_reply_that_is_not_an_argo_cd_status_is_unknown() -> None:
    checks, thing = one('return {status = "Fine", message = "?"}')
    result = assess(thing, checks)
    assert result.status == Health.UNKNOWN
    assert "returned status 'Fine'" in result.message


def test_a_script_that_loops_forever_is_stopped_within_its_instruction_limit() -> None:
    checks, thing = one("while true do end", Limits(max_instructions=100_000))
    started = time.monotonic()
    result = assess(thing, checks)
    assert time.monotonic() - started < 1
    assert result.status == Health.UNKNOWN
    assert "thing.lua" in result.message
    assert "instruction limit of 100000 exceeded" in result.message


def test_a_loop_cannot_hide_from_its_limit_behind_pcall() -> None:
    script = "while true do pcall(function() while true do end end) end"
    checks, thing = one(script, Limits(max_instructions=100_000))
    result = assess(thing, checks)
    assert result.status == Health.UNKNOWN
    assert "instruction limit" in result.message


def test_a_slow_script_is_stopped_at_its_time_limit() -> None:
    checks, thing = one("while true do end", Limits(max_instructions=10**15, max_seconds=0.2))
    started = time.monotonic()
    result = assess(thing, checks)
    assert 0.2 <= time.monotonic() - started < 1.5
    assert "thing.lua failed: time limit exceeded" in result.message


def test_a_script_that_eats_memory_is_unknown() -> None:
    checks, thing = one('local s = string.rep("x", 1024 * 1024 * 1024)')
    result = assess(thing, checks)
    assert result.status == Health.UNKNOWN
    assert "memory" in result.message


@pytest.mark.parametrize(
    "escape",
    [
        'os.execute("touch {marker}")',
        'io.open("{marker}", "w"):write("x")',
        'require("os").execute("touch {marker}")',
        "load(\"os.execute('touch {marker}')\")()",
        'loadstring("x = 1")()',
        'dofile("{marker}")',
        "debug.sethook()",
        'package.loadlib("libc.so.6", "system")',
        "coroutine.wrap(function() while true do end end)()",
        'getfenv(0).os.execute("touch {marker}")',
        'python.eval("1")',
    ],
)
def test_the_sandbox_refuses_a_way_out(escape: str, tmp_path: Path) -> None:
    marker = tmp_path / "escaped"
    checks, thing = one(escape.format(marker=marker))
    result = assess(thing, checks)
    assert result.status == Health.UNKNOWN
    assert "a nil value" in result.message, result.message
    assert not marker.exists()


def test_each_run_starts_from_fresh_globals_and_whole_libraries() -> None:
    script = """
    local hs = {status = "Healthy", message = tostring(seen) .. " " .. type(string.upper)}
    seen = "yes"
    string.upper = nil
    rawset(table, "insert", nil)
    return hs
    """
    checks, thing = one(script)
    assert assess(thing, checks).message == "nil function"
    assert assess(thing, checks).message == "nil function"  # neither change stayed
    checks.add(
        "example.com",
        "Other",
        'return {status = "Healthy", message = type(table.insert)}',
        name="other.lua",
    )
    assert assess({**thing, "kind": "Other"}, checks).message == "function"  # nor for others


def test_a_script_that_does_not_compile_names_its_line() -> None:
    with pytest.raises(LuaCompileError) as caught:
        CustomChecks().add("g", "K", "local hs = {}\nhs.status = = 1\n", name="bad.lua")
    assert caught.value.line == 2
    assert str(caught.value).startswith("bad.lua:2: ")


def test_numbers_print_as_argo_cd_prints_them() -> None:
    checks, thing = one('return {status = "Healthy", message = obj.spec.replicas .. " replicas"}')
    result = assess({**thing, "spec": {"replicas": 3}}, checks)
    assert result.message == "3 replicas"


@pytest.mark.parametrize(
    "script",
    [
        "return setmetatable({}, {__index = function() while true do end end})",
        'return {status = "Healthy", message = setmetatable({}, {__tostring = function() '
        "while true do end end})}",
        "error(setmetatable({}, {__tostring = function() while true do end end}))",
    ],
)
def test_a_metamethod_in_the_reply_cannot_run_outside_the_limits(script: str) -> None:
    checks, thing = one(script, Limits(max_instructions=100_000))
    started = time.monotonic()
    result = assess(thing, checks)
    assert time.monotonic() - started < 1
    assert result.status == Health.UNKNOWN
    assert "thing.lua" in result.message


def test_a_reply_that_is_not_a_table_is_unknown() -> None:
    checks, thing = one('return "Healthy"')
    assert assess(thing, checks).message == "health check thing.lua failed: returned string, not hs"
