"""`baton serve` starts in every documented form, as the real console script, and works:
ready, a promotion asked for, the release applied in the emulated cluster."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.service.baton_process import (
    BATON,
    Baton,
    Site,
    free_port,
    promote_and_see_applied,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]


def _serve_and_promote(site: Site, *args: str, env: dict[str, str] | None = None) -> str:
    baton = Baton.start(site, *args, env=env)
    try:
        baton.wait_ready()
        promote_and_see_applied(baton.url, site.release)
    finally:
        code = baton.stop()
    assert code == 0, baton.output()
    return baton.output()


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
async def test_serve_as_the_readme_shows_it_promotes_on_either_event_loop(
    site: Site, loop: str
) -> None:
    output = await asyncio.to_thread(_serve_and_promote, site, "--loop", loop)
    assert "Traceback" not in output


async def test_serve_with_a_kubeconfig_of_clusters_started_apart(site: Site) -> None:
    kubeconfig = site.root / "kubeconfig"

    def run() -> None:
        sim = subprocess.Popen(
            [BATON, "kubesim", "--cluster", "dev", "--cluster", "staging", "--cluster", "prod",
             "--kubeconfig", str(kubeconfig)],
            env=site.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for(
                "kubesim's kubeconfig", lambda: kubeconfig.exists() and kubeconfig.stat().st_size
            )
            _serve_and_promote(site, "--kubeconfig", str(kubeconfig))
        finally:
            sim.terminate()
            sim.wait(10)

    await asyncio.to_thread(run)


async def test_an_api_process_and_a_worker_process_share_the_work(site: Site) -> None:
    def run() -> None:
        worker = Baton.start(site, "--role", "worker")
        try:
            _serve_and_promote(site, "--role", "api")
            assert worker.process.poll() is None, worker.output()
        finally:
            assert worker.stop() == 0, worker.output()

    await asyncio.to_thread(run)


async def test_several_http_workers_serve_one_port(site: Site) -> None:
    output = await asyncio.to_thread(_serve_and_promote, site, "--workers", "2")
    assert "2 processes" in output


def _dockerfile_cmd() -> tuple[list[str], dict[str, str]]:
    """The Dockerfile's CMD (exec form) and the variables its ENV sets."""
    text = (ROOT / "Dockerfile").read_text()
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))  # type: ignore[union-attr]
    env_block = re.search(r"^ENV ((?:.*\\\n)*.*)$", text, re.M).group(1)  # type: ignore[union-attr]
    env = dict(
        pair.split("=", 1) for pair in shlex.split(env_block.replace("\\\n", " ")) if "=" in pair
    )
    return cmd, env


async def test_the_dockerfile_command_line_starts_baton(site: Site) -> None:
    cmd, image_env = _dockerfile_cmd()
    port = re.search(r"--port (\d+)", cmd[-1]).group(1)  # type: ignore[union-attr]
    # the image's paths, made here: its home and its environments (the image copies ours)
    env = {
        **image_env,
        "BATON_HOME": str(site.root / "image-home"),
        "BATON_ENVIRONMENTS": site.env["BATON_ENVIRONMENTS"],
        "PATH": f"{Path(BATON).parent}:{site.env['PATH']}",
    }

    def run() -> None:
        baton = Baton.start(site, *cmd, port=int(port), env=env)
        try:
            baton.wait_ready()
            promote_and_see_applied(baton.url, site.release)
        finally:
            assert baton.stop() == 0, baton.output()
        assert "database is up to date" in baton.output() or "applied" in baton.output()

    assert free_port() and port  # the command line names its port; it must be free here
    await asyncio.to_thread(run)
