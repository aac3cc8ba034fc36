"""The consoles `baton` commands print through: never wrapped when no terminal reads them.

Where it sits: under every command's output. On a terminal rich fits text and tables to
its width; into a pipe or a container log, rich would wrap at 80 columns and split a
message over lines, so there a line stays whole (`COLUMNS` still sets a width).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

#: wide enough that no table or message reaching a log is folded
_UNBOUNDED = 100_000


def make_console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr) that wraps only to a terminal's width."""
    # imported here: `baton --help` lists every command without loading rich
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    on_terminal = stream.isatty()
    width = None if on_terminal or os.environ.get("COLUMNS") else _UNBOUNDED
    return Console(stderr=stderr, soft_wrap=not on_terminal, width=width)
