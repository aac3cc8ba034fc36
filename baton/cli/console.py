"""The consoles `baton` commands print through: colour only on a terminal, never wrapped
when no terminal reads them.

Where it sits: under every command's output. On a terminal rich fits text and tables to
its width; into a pipe or a container log, rich would wrap at 80 columns and split a
message over lines, so there a line stays whole (`COLUMNS` still sets a width), as it
does everywhere under `-o wide`. Colour
(and bold, and every other escape code) goes only to a terminal, and not even there when
`NO_COLOR` is set to anything but the empty string (https://no-color.org).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console

#: wide enough that no table or message reaching a log is folded
_UNBOUNDED = 100_000


def colour(stream: TextIO) -> bool:
    """True when what is written to `stream` may carry colour: a terminal, no `NO_COLOR`."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


def make_console(*, stderr: bool = False, unbounded: bool = False) -> Console:
    """A console on stdout (or stderr) that wraps only to a terminal's width and colours
    only a terminal's text; `unbounded`: lines as long as what they hold, on a terminal
    too (`-o wide` shows whole ids and SHAs rather than fit, as kubectl's does)."""
    # imported here: `baton --help` lists every command without loading rich
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    on_terminal = stream.isatty()
    width = None if on_terminal or os.environ.get("COLUMNS") else _UNBOUNDED
    if unbounded:
        width = _UNBOUNDED
    return Console(
        stderr=stderr,
        soft_wrap=not on_terminal,
        width=width,
        # None: no escape code at all, not even bold (rich alone would still embolden
        # a table's header under NO_COLOR, or colour a pipe under FORCE_COLOR)
        color_system="auto" if colour(stream) else None,
    )
