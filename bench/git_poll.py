"""Benchmark: one poll cycle of the Git watcher over 200 app repositories.

Builds 200 bare repositories of 50 commits each (``git fast-import``), lets the watcher
clone them once, then times a full cycle when nothing changed and when one repository
has a new commit. The ceiling is ``git fetch`` over the same 200 repositories in a shell
loop. Target: the no-change cycle within 1.5x that loop.

Prints a table, then one JSON line (the last line).

    python bench/git_poll.py [--repos 200] [--commits 50] [--rounds 5] [--workers 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from engine.domain.pipeline import AppSpec, EnvironmentSpec
from engine.domain.policy import Policy
from engine.git.plan import SourcePlan, SourceState
from engine.git.watcher import GitWatcher

MANIFEST = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {n}
"""


def fast_import_stream(commits: int, *, start: int = 0, parent: bool = False) -> bytes:
    """A fast-import stream of ``commits`` commits on main; every other one touches deploy/."""
    out = []
    for i in range(start, start + commits):
        path, body = (
            ("deploy/web.yaml", MANIFEST.format(n=i))
            if i % 2 == 0
            else ("README.md", f"revision {i}\n")
        )
        data = body.encode()
        msg = f"commit {i}".encode()
        out.append(b"commit refs/heads/main\n")
        out.append(f"committer Bench <bench@example.test> {1_700_000_000 + i} +0000\n".encode())
        out.append(b"data %d\n%s\n" % (len(msg), msg))
        if i == start and parent:
            out.append(b"from refs/heads/main^0\n")
        out.append(f"M 100644 inline {path}\n".encode())
        out.append(b"data %d\n%s\n" % (len(data), data))
    return b"".join(out)


def make_repos(root: Path, *, count: int, commits: int) -> list[Path]:
    """``count`` bare upstream repositories with ``commits`` commits each."""
    stream = fast_import_stream(commits)
    repos = []
    for i in range(count):
        repo = root / "upstream" / f"app-{i:03d}.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(repo)], check=True)
        subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=stream, check=True)
        repos.append(repo)
    return repos


def add_commit(repo: Path, number: int) -> None:
    """Push one more commit touching the manifests onto main."""
    subprocess.run(
        ["git", "-C", str(repo), "fast-import", "--quiet"],
        input=fast_import_stream(1, start=number * 2, parent=True),
        check=True,
    )


def shell_loop(root: Path, repos: list[Path], command: str) -> float:
    """Seconds for a bash loop running ``command`` in a clone of each repository."""
    clones = root / "shell"
    if not clones.exists():
        for repo in repos:
            subprocess.run(
                ["git", "clone", "-q", "--bare", str(repo), str(clones / repo.name)], check=True
            )
    script = f'for d in "{clones}"/*; do git -C "$d" {command} >/dev/null || exit 1; done'
    started = time.perf_counter()
    subprocess.run(["bash", "-c", script], check=True)
    return time.perf_counter() - started


class MemoryRecorder:
    """Keeps the recorded state in memory: the bench times Git, not the database."""

    def __init__(self) -> None:
        self.state: dict[str, SourceState] = {}

    async def source_state(self, app: AppSpec) -> SourceState:
        return self.state.get(app.name, SourceState())

    async def record(self, app: AppSpec, plan: SourcePlan) -> None:
        old = self.state.get(app.name, SourceState())
        known = old.known | {o.commit.sha for o in plan.observations}
        self.state[app.name] = SourceState(head=plan.branch_head, known=known)


def app_spec(repo: Path) -> AppSpec:
    envs = tuple(
        EnvironmentSpec(
            name=e,
            cluster=f"kubesim:{e}",
            namespace=f"{repo.stem}-{e}",
            upstream=u,
            policy=Policy(),
        )
        for e, u in (("dev", None), ("staging", "dev"), ("prod", "staging"))
    )
    return AppSpec(
        name=repo.stem,
        repo=str(repo),
        branch="main",
        path="deploy",
        poll_interval=None,
        credentials=None,
        environments=envs,
        source_file="bench",
    )


async def time_cycle(watcher: GitWatcher) -> tuple[float, int, int]:
    """Seconds for one full cycle, releases created, failures."""
    started = time.perf_counter()
    results = await watcher.poll_all()
    seconds = time.perf_counter() - started
    return seconds, sum(len(r.released) for r in results), sum(not r.ok for r in results)


async def run(args: argparse.Namespace, root: Path) -> dict[str, float | int]:
    t0 = time.perf_counter()
    repos = make_repos(root, count=args.repos, commits=args.commits)
    setup = time.perf_counter() - t0
    fetch_loop = [shell_loop(root, repos, "fetch -q origin") for _ in range(args.rounds)]
    ls_loop = [
        shell_loop(root, repos, "ls-remote origin refs/heads/main") for _ in range(args.rounds)
    ]

    watcher = GitWatcher(
        apps=[app_spec(r) for r in repos],
        home=root / "home",
        recorder=MemoryRecorder(),
        interval=timedelta(seconds=30),
        max_workers=args.workers,
    )
    first, released, failed = await time_cycle(watcher)
    assert failed == 0 and released == args.repos, (released, failed)
    idle = [(await time_cycle(watcher))[0] for _ in range(args.rounds)]
    one_new = []
    for round_ in range(args.rounds):
        add_commit(repos[0], args.commits + round_)
        seconds, released, failed = await time_cycle(watcher)
        assert (released, failed) == (1, 0), (released, failed)
        one_new.append(seconds)
    watcher.close()

    serial = GitWatcher(
        apps=[app_spec(r) for r in repos],
        home=root / "home",
        recorder=MemoryRecorder(),
        max_workers=1,
    )
    await serial.poll_all()  # warm-up: the mirrors are already up to date
    idle_serial = [(await time_cycle(serial))[0] for _ in range(args.rounds)]
    serial.close()

    med = statistics.median
    return {
        "repos": args.repos,
        "commits_per_repo": args.commits,
        "workers": args.workers,
        "setup_s": round(setup, 2),
        "first_cycle_s": round(first, 3),
        "shell_fetch_loop_s": round(med(fetch_loop), 3),
        "shell_ls_remote_loop_s": round(med(ls_loop), 3),
        "no_change_cycle_s": round(med(idle), 3),
        "no_change_cycle_1_worker_s": round(med(idle_serial), 3),
        "one_new_commit_cycle_s": round(med(one_new), 3),
        "no_change_vs_shell_fetch": round(med(idle) / med(fetch_loop), 3),
        "target_ratio": 1.5,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--commits", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="baton-bench-git-") as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    rows = [
        ("shell loop: git fetch (ceiling)", result["shell_fetch_loop_s"]),
        ("shell loop: git ls-remote", result["shell_ls_remote_loop_s"]),
        (f"watcher, no change ({args.workers} workers)", result["no_change_cycle_s"]),
        ("watcher, no change (1 worker)", result["no_change_cycle_1_worker_s"]),
        (f"watcher, one new commit ({args.workers} workers)", result["one_new_commit_cycle_s"]),
        ("watcher, first cycle (clone + render)", result["first_cycle_s"]),
    ]
    print(f"{args.repos} repositories x {args.commits} commits, median of {args.rounds} rounds")
    print(f"{'cycle':<46} {'seconds':>9} {'ms/repo':>9}")
    for label, seconds in rows:
        print(f"{label:<46} {seconds:>9.3f} {1000 * seconds / args.repos:>9.2f}")
    verdict = "met" if result["no_change_vs_shell_fetch"] <= 1.5 else "NOT met"
    print(
        f"no-change cycle / shell fetch loop = {result['no_change_vs_shell_fetch']:.2f} "
        f"(target <= 1.5: {verdict})"
    )
    sys.stdout.flush()
    print(json.dumps({"bench": "git_poll", **result}))


if __name__ == "__main__":
    main()
