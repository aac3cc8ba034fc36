"""`make demo ARGS=--once`: the newcomer's story runs end to end and says each step."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

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


@pytest.mark.timeout(400)
def test_make_demo_once_tells_the_whole_story(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    if "BATON_DATABASE_URL" in os.environ:
        env["BATON_DATABASE_URL"] = os.environ["BATON_DATABASE_URL"]
    env.update(BATON_HOME=str(tmp_path), COLUMNS="120")
    done = subprocess.run(
        ["make", "-s", "demo", "ARGS=--once"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=380,
        check=False,
    )
    output = re.sub(r"\s+", " ", done.stdout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    position = 0
    for step in STEPS:
        found = re.compile(step).search(output, position)
        assert found, f"the demo did not say {step!r} (after position {position})"
        position = found.end()
