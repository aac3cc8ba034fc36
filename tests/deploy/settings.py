"""What the deploy tests compare against: the environment variables baton reads.

A name counts as read when baton's source mentions it (`env.get("BATON_HOME")`, a click
option's `envvar=`) or the sample environments config expands it (`${BATON_DEMO_REPO}`).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "projections", "api", "console", "baton")
# read by the libraries baton runs on, not by baton's own code
STANDARD_PREFIXES = ("OTEL_",)
STANDARD_NAMES = frozenset({"KUBECONFIG", "HOME", "PATH"})

_NAME = re.compile(r"\bBATON_[A-Z0-9_]+\b")


@cache
def names_baton_reads() -> frozenset[str]:
    """Every BATON_* name in baton's packages and in environments/*.yaml."""
    files = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    files += sorted((ROOT / "environments").glob("*.yaml"))
    return frozenset(name for path in files for name in _NAME.findall(path.read_text()))


def unknown_names(names: list[str]) -> list[str]:
    """The names baton (or the libraries it runs on) would never read."""
    return [
        name
        for name in names
        if name not in names_baton_reads()
        and name not in STANDARD_NAMES
        and not name.startswith(STANDARD_PREFIXES)
    ]
