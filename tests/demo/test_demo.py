"""`baton demo --once`: the newcomer's story runs end to end, in this process, and says
each step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from baton.demo import story

ROOT = Path(__file__).resolve().parents[2]
STEPS = [
    r"1\. A commit becomes a release and reaches dev by itself",
    r"commit [0-9a-f]{12} is release #1",
    r"dev runs [0-9a-f]{12}: Healthy, Synced \(auto-promoted\)",
    r"staging runs [0-9a-f]{12}: Healthy and verified after its soak",
    r"alice asked: promotion [0-9a-f-]{36} is\s+awaiting_approval",
    r"alice cannot approve her own promotion",
    r"bob approved: promotion is started",
    r"prod runs [0-9a-f]{12}: Healthy, verified",
    r"staging: [0-9a-f-]{36} failed: Degraded after sync",
    r"rolled back [0-9a-f]{12}",
    r"staging runs [0-9a-f]{12} again",
    r"detected: drift in 1 objects: ConfigMap shop/shop-config",
    r"corrected: corrected drift of ConfigMap shop/shop-config",
    r"the pipeline",
    r"lineage of release #1",
    r"the audit trail",
    r"replay --verify: every read model equals a rebuild at position \d+",
    r"audit verify: \d+ events, hash chain intact",
    r"the story is complete",
]


@pytest.mark.timeout(300)
async def test_the_demo_tells_the_whole_story(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # the story sets these in the environment; set-then-deleted, they are restored after it
    for name in (
        "BATON_DEMO_REPO",
        "BATON_GIT_POLL_INTERVAL",
        "BATON_DRIFT_INTERVAL",
        "BATON_HEALTH_INTERVAL",
        "BATON_API_PORT",
    ):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("BATON_ENVIRONMENTS", str(ROOT / "environments"))
    monkeypatch.setenv("COLUMNS", "120")
    await story(once=True, home=tmp_path, database_url=database_url)
    output = re.sub(r"\s+", " ", capsys.readouterr().out)
    position = 0
    for step in STEPS:
        found = re.compile(step).search(output, position)
        assert found, f"the demo did not say {step!r} (after position {position})"
        position = found.end()
