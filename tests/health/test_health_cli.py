"""`baton health test` and `baton health explain`, run as a user runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.console_script import run_baton

CHECKS = Path(__file__).parent / "checks"
WIDGET = CHECKS / "example.com" / "Widget"

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, generation: 1}
spec: {replicas: 2, paused: true}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: knob, namespace: shop, generation: 1}
spec: {replicas: 3}
status:
  observedGeneration: 1
  readyReplicas: 0
  conditions:
  - {type: Ready, status: "False", reason: QuotaExceeded, message: no room for 3 widgets,
     lastTransitionTime: 2026-11-30T10:00:00Z}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {app.properties: "x=1"}
---
"""


def test_health_test_runs_every_case_of_an_argo_cd_folder_and_passes() -> None:
    result = run_baton("health", "test", str(CHECKS))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "PASS example.com/Widget testdata/degraded.yaml: Degraded " in "\n".join(lines)
    assert sum(line.startswith("PASS ") for line in lines) == 6
    assert lines[-1] == "6 passed, 0 failed"


def test_health_test_reports_a_failing_case_with_expected_and_got(tmp_path: Path) -> None:
    folder = tmp_path / "resource_customizations"
    shutil.copytree(CHECKS, folder)
    tests = folder / "example.com" / "Widget" / "health_test.yaml"
    tests.write_text(tests.read_text().replace("3 of 3 widgets ready", "all widgets ready"))
    result = run_baton("health", "test", str(folder))
    assert result.returncode == 1
    assert (
        "FAIL example.com/Widget testdata/healthy.yaml: expected Healthy 'all widgets ready', "
        "got Healthy '3 of 3 widgets ready'"
    ) in result.stdout.splitlines()
    assert result.stdout.splitlines()[-1] == "5 passed, 1 failed"


def test_health_test_fails_every_case_of_a_script_that_does_not_compile(tmp_path: Path) -> None:
    folder = tmp_path / "checks"
    shutil.copytree(WIDGET, folder / "example.com" / "Widget")
    (folder / "example.com" / "Widget" / "health.lua").write_text("if then\n")
    result = run_baton("health", "test", str(folder))
    assert result.returncode == 1
    failures = [line for line in result.stdout.splitlines() if line.startswith("FAIL ")]
    assert len(failures) == 4
    script = folder / "example.com" / "Widget" / "health.lua"
    assert f"got Error \"{script}:1: unexpected symbol near 'then'\"" in failures[0]


def test_health_test_of_a_folder_without_tests_says_so(tmp_path: Path) -> None:
    result = run_baton("health", "test", str(tmp_path))
    assert result.returncode == 1
    assert f"no health_test.yaml under {tmp_path}" in result.stderr


def test_explain_names_verdict_message_and_rule_of_each_document(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(MANIFEST)
    result = run_baton(
        "health", "explain", str(manifest), "--checks", str(CHECKS), "-o", "json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    rows = [
        (r["kind"], r["status"], r["message"], r["rule"])
        for r in json.loads(result.stdout)["items"]
    ]
    assert rows == [
        ("Deployment", "Healthy", "the team says so", str(CHECKS / "apps/Deployment/health.lua")),
        (
            "Widget",
            "Degraded",
            "QuotaExceeded: no room for 3 widgets (since 2026-11-30T10:00:00Z)",
            str(WIDGET / "health.lua"),
        ),
        (
            "ConfigMap",
            "Healthy",
            "has app.properties",
            str(CHECKS / "_/ConfigMap/health.lua"),
        ),
    ]


def test_explain_reads_json_from_stdin_with_the_built_in_rules(tmp_path: Path) -> None:
    objects = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web"},
                "spec": {"replicas": 1, "paused": True},
            },
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}},
        ],
    }
    # no --checks and no environments folder here: the built-in rules only
    result = run_baton("health", "explain", "-", stdin=json.dumps(objects), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    deployment = next(line for line in lines if "Deployment web" in line)
    assert "Suspended" in deployment and "deployment is paused" in deployment
    assert "built-in deployment" in deployment
    config_map = next(line for line in lines if "ConfigMap settings" in line)
    assert "Healthy" in config_map and "generic" in config_map


def test_explain_uses_the_checks_of_the_environments_config(tmp_path: Path) -> None:
    environments = tmp_path / "environments"
    environments.mkdir()
    (environments / "health.yaml").write_text(
        "health:\n  checks:\n    ConfigMap: |\n"
        '      return {status = "Suspended", message = "parked"}\n'
    )
    result = run_baton(
        "health",
        "explain",
        "-",
        "-o",
        "json",
        stdin="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
        env={"BATON_ENVIRONMENTS": str(environments)},
    )
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)["items"]
    assert (row["status"], row["message"]) == ("Suspended", "parked")
    assert row["rule"] == f"{environments / 'health.yaml'}:health.checks[ConfigMap]"


def test_config_check_lists_the_health_checks_it_compiled(tmp_path: Path) -> None:
    environments = tmp_path / "environments"
    environments.mkdir()
    (environments / "health.yaml").write_text(
        f"health:\n  checks_dir: {CHECKS}\n  checks:\n    example.com/Gadget: 'return nil'\n"
    )
    result = run_baton("config", "check", "--dir", str(environments))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "ok health checks: _/ConfigMap apps/Deployment example.com/Gadget example.com/Widget"
    )
