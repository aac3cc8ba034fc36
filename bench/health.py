"""Benchmark: assess 12,000 mixed live objects with the built-in health rules, on one core.

The objects are built from the table tests' fixtures (``tests/health/testdata``: every
kind and state the rules know, custom resources and odd shapes included), copied with
other names, namespaces and replica counts. Target: the built-in rules assess them all
in 0.5 s or less. The Lua-checked share is reported apart: the mix's Deployments and
StatefulSets read by a user's script in Argo CD's health.lua format, in objects/s.

Prints a table (per kind, then the total), then one JSON line (the last line).

    python bench/health.py [--objects 12000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from engine.health import Assessment, CustomChecks, assess

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "health" / "testdata"
TARGET_S = 0.5
# counts that move together, so a scaled copy keeps the state of its fixture
_COUNTS = {
    "replicas", "updatedReplicas", "availableReplicas", "readyReplicas", "currentReplicas",
    "fullyLabeledReplicas", "desiredNumberScheduled", "currentNumberScheduled",
    "updatedNumberScheduled", "numberAvailable", "numberReady",
}  # fmt: skip

Assess = Callable[[Mapping[str, Any]], Any]


def fixtures() -> list[dict[str, Any]]:
    """Every fixture of the table tests, in name order."""
    return [yaml.safe_load(p.read_text()) for p in sorted(FIXTURES.glob("*.yaml"))]


def varied(base: dict[str, Any], i: int) -> dict[str, Any]:
    """Copy `i` of a fixture: its own name and namespace, counts scaled by 1 to 5."""
    obj = copy.deepcopy(base)
    factor = 1 + i % 5
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta["name"] = f"{meta.get('name', 'obj')}-{i}"
        meta["namespace"] = f"team-{i % 40}"
    for block in (obj.get("spec"), obj.get("status")):
        if isinstance(block, dict):
            for key in _COUNTS & block.keys():
                if isinstance(block[key], int):
                    block[key] *= factor
    return obj


def mixed(count: int) -> list[dict[str, Any]]:
    """`count` objects, round-robin over the fixtures."""
    bases = fixtures()
    return [varied(bases[i % len(bases)], i) for i in range(count)]


def time_pass(objects: list[dict[str, Any]], judge: Assess) -> float:
    """Seconds to assess every object once."""
    started = time.perf_counter()
    for obj in objects:
        judge(obj)
    return time.perf_counter() - started


def per_kind(objects: list[dict[str, Any]], judge: Assess) -> dict[str, tuple[int, float]]:
    """For each kind: how many objects, and microseconds per object (one timed pass)."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for obj in objects:
        groups[str(obj.get("kind", "(no kind)"))].append(obj)
    return {
        kind: (len(objs), 1e6 * time_pass(objs, judge) / len(objs))
        for kind, objs in sorted(groups.items())
    }


#: a check in the style of Argo CD's resource customizations: conditions first, then counts
LUA_CHECK = """
local hs = {status = "Progressing", message = "waiting"}
if obj.status ~= nil then
  if obj.status.conditions ~= nil then
    for _, condition in ipairs(obj.status.conditions) do
      if condition.type == "Available" and condition.status == "False" then
        hs.status = "Degraded"
        hs.message = condition.message or "not available"
        return hs
      end
    end
  end
  local want = (obj.spec and obj.spec.replicas) or 1
  local ready = obj.status.readyReplicas or 0
  if ready >= want then
    hs.status = "Healthy"
  end
  hs.message = ready .. " of " .. want .. " replicas ready"
end
return hs
"""


def lua_share(objects: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    """The Lua-checked share, reported apart in objects/s: the mix's Deployments and
    StatefulSets read by a user's script (Argo CD's health.lua format) instead of the rules."""
    checks = CustomChecks()
    for group, kind in (("apps", "Deployment"), ("apps", "StatefulSet")):
        checks.add(group, kind, LUA_CHECK, name=f"bench/{kind}/health.lua")
    scripted = [o for o in objects if checks.find(str(o.get("apiVersion", "")), str(o.get("kind")))]

    def judge(obj: dict[str, Any]) -> Assessment:
        return assess(obj, checks)

    time_pass(scripted, judge)  # warm-up
    seconds = statistics.median(time_pass(scripted, judge) for _ in range(rounds))
    return {
        "objects": len(scripted),
        "seconds": round(seconds, 4),
        "objects_per_s": round(len(scripted) / seconds),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    objects = mixed(args.objects)
    time_pass(objects, assess)  # warm-up
    rounds = [time_pass(objects, assess) for _ in range(args.rounds)]
    statuses = Counter(str(assess(o).status) for o in objects)
    best, median = min(rounds), statistics.median(rounds)
    return {
        "objects": len(objects),
        "fixtures": len(fixtures()),
        "rounds": args.rounds,
        "builtin_best_s": round(best, 4),
        "builtin_median_s": round(median, 4),
        "builtin_objects_per_s": round(len(objects) / median),
        "target_s": TARGET_S,
        "target_met": median <= TARGET_S,
        "statuses": dict(sorted(statuses.items())),
        "kinds": per_kind(objects, assess),
        "lua": lua_share(objects, args.rounds),
    }


def one_core() -> str:
    """Pin this process to one CPU (where the platform allows), as the target says."""
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"cpu {cpu}"
    return "not pinned"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=12_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    pinned = one_core()
    result = run(args)
    print(f"{result['objects']} objects from {result['fixtures']} fixtures, one core ({pinned})")
    print(f"{'kind':<28} {'objects':>8} {'us/object':>10}")
    for kind, (count, micros) in result.pop("kinds").items():
        print(f"{kind:<28} {count:>8} {micros:>10.1f}")
    print(f"verdicts: {', '.join(f'{k} {v}' for k, v in result['statuses'].items())}")
    verdict = "met" if result["target_met"] else "NOT met"
    print(
        f"built-in rules: {result['builtin_median_s']:.3f} s median of {args.rounds} "
        f"(best {result['builtin_best_s']:.3f} s), {result['builtin_objects_per_s']:,} objects/s "
        f"(target <= {TARGET_S} s: {verdict})"
    )
    lua = result["lua"]
    print(f"Lua-checked share: {lua['objects']} objects, {lua['objects_per_s']:,.0f} objects/s")
    sys.stdout.flush()
    print(json.dumps({"bench": "health", **result}))


if __name__ == "__main__":
    main()
