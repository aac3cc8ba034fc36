"""The config's `health:` section: a checks folder and inline scripts, loaded at start and
on reload; a script that does not compile names its file and line, and changes nothing."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from engine.config.loader import ConfigError, load_environments
from engine.domain.enums import Health
from engine.health import assess

CHECKS = Path(__file__).resolve().parents[1] / "health" / "checks"
APP = """\
apps:
  - name: shop
    repo: https://git.example/shop.git
    pipeline:
      - {name: dev, cluster: kubesim:dev}
"""
GADGET = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}}
WIDGET = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}


def environments(tmp_path: Path, health: str, *, with_apps: bool = True) -> Path:
    """An environments folder whose apps.yaml ends with `health`; a copy of the test checks
    folder beside it, as `checks/`."""
    directory = tmp_path / "environments"
    directory.mkdir(exist_ok=True)
    if not (tmp_path / "checks").exists():
        shutil.copytree(CHECKS, tmp_path / "checks")
    text = (APP if with_apps else "") + textwrap.dedent(health)
    (directory / "apps.yaml").write_text(text)
    return directory


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_environments(directory, environ={})
    return [str(p) for p in info.value.problems]


def test_a_checks_folder_and_inline_scripts_load_with_the_config(tmp_path: Path) -> None:
    directory = environments(
        tmp_path,
        """\
        health:
          checks_dir: ../checks   # relative to this file, as a local repo is
          checks:
            example.com/Gadget: |
              return {status = "Degraded", message = "gadgets are always broken"}
        """,
    )
    checks = load_environments(directory, environ={}).health
    assert checks is not None
    assert ("example.com", "Widget") in checks.kinds()
    assert assess(WIDGET, checks).status == Health.PROGRESSING  # no status yet
    gadget = assess(GADGET, checks)
    assert (gadget.status, gadget.message) == (Health.DEGRADED, "gadgets are always broken")
    assert gadget.rule == f"{directory / 'apps.yaml'}:health.checks[example.com/Gadget]"


def test_a_file_may_hold_only_the_health_section(tmp_path: Path) -> None:
    directory = environments(tmp_path, "", with_apps=True)
    (directory / "health.yaml").write_text("health:\n  checks: {Pod: 'return nil'}\n")
    config = load_environments(directory, environ={})
    assert config.health is not None and config.health.kinds() == [("", "Pod")]
    assert [a.name for a in config.apps] == ["shop"]


def test_a_script_of_the_folder_that_does_not_compile_names_its_file_and_line(
    tmp_path: Path,
) -> None:
    directory = environments(tmp_path, "health: {checks_dir: ../checks}\n")
    script = tmp_path / "checks" / "example.com" / "Widget" / "health.lua"
    script.write_text("local hs = {}\nhs.status = \nreturn hs\n")
    (problem,) = problems_of(directory)
    assert problem.startswith(f"{script}:3: health.checks_dir: ")


def test_an_inline_script_that_does_not_compile_names_the_config_line(tmp_path: Path) -> None:
    directory = environments(
        tmp_path,
        """\
        health:
          checks:
            example.com/Gadget: |
              local hs = {}
              hs.status = = "Healthy"
              return hs
        """,
    )
    (problem,) = problems_of(directory)
    # the script's line 2 is the config's line 10: five lines of apps, three of health
    assert problem.startswith(f"{directory / 'apps.yaml'}:10: health.checks.example.com/Gadget:")
    assert "script line 2" in problem


@pytest.mark.parametrize(
    ("health", "expected"),
    [
        ("health: {checks_dir: ../nowhere}\n", ":6: health.checks_dir: "),
        ("health: {checks: {'apps/': 'return nil'}}\n", ":6: health.checks: 'apps/' is not"),
        ("health: {timeout: 2m}\n", ":6: health.timeout: '2m' must be"),
        ("health: {max_instructons: 5}\n", ":6: health.max_instructons: unknown key"),
    ],
)
def test_health_mistakes_name_file_line_and_key(tmp_path: Path, health: str, expected: str) -> None:
    directory = environments(tmp_path, health)
    (problem,) = problems_of(directory)
    assert problem.startswith(str(directory / "apps.yaml")), problem
    assert expected in problem, problem


def test_two_health_sections_are_a_mistake(tmp_path: Path) -> None:
    directory = environments(tmp_path, "health: {checks: {Pod: 'return nil'}}\n")
    (directory / "more.yaml").write_text("health:\n  checks: {Service: 'return nil'}\n")
    (problem,) = problems_of(directory)
    assert problem == (
        f"{directory / 'more.yaml'}:1: health: also defined at {directory / 'apps.yaml'}:6"
    )


def test_a_reload_that_fails_to_compile_changes_nothing(tmp_path: Path) -> None:
    directory = environments(tmp_path, "health: {checks_dir: ../checks}\n")
    running = load_environments(directory, environ={}).health
    script = tmp_path / "checks" / "example.com" / "Widget" / "health.lua"
    script.write_text('return {status = "Healthy", message = "new" .. }\n')
    with pytest.raises(ConfigError) as info:
        load_environments(directory, environ={})
    assert str(info.value.problems[0]).startswith(f"{script}:1: ")
    # what runs is what loaded before: the old script still decides
    assert running is not None
    assert assess(WIDGET, running).message == "waiting for the widget controller"
    script.write_text('return {status = "Healthy", message = "new"}\n')
    reloaded = load_environments(directory, environ={}).health
    assert reloaded is not None and assess(WIDGET, reloaded).message == "new"
