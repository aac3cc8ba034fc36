"""How `baton promote --wait` and `baton rollback --wait` show a promotion's progress.

Where it sits: under `baton.cli.promotions`, over the promotion the API answers
(`GET /promotions/{id}`, its `progress` from `projections.progress`). `steps` reads a
promotion as five steps (approval, apply, health, soak, verified), each waiting,
running, done or failed; `outcome` says how a finished one ended. On a terminal a live
view redraws the steps (rich); elsewhere, as in a CI log, each change of a step is one
plain line, with no colour and no escape codes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from baton.cli.remote import short
from engine.domain.enums import Health, PromotionPhase
from engine.domain.policy import format_duration

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

Promotion = dict[str, Any]


class State(StrEnum):
    """Where a step is."""

    WAITING = "waiting"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class Step:
    """One step of a promotion, as a line shows it."""

    name: str
    state: State
    text: str = ""
    #: what changes by the second (the soak's time left): on a terminal only
    countdown: str = ""

    @property
    def is_open(self) -> bool:
        """True while the promotion still waits for this step."""
        return self.state in (State.WAITING, State.RUNNING)


#: what a promotion still waiting at each step is waiting for, as a sentence says it
PENDING = {
    "approval": "awaiting approval",
    "apply": "waiting for its objects to be applied",
    "health": "waiting for its target to be healthy",
    "soak": "soaking",
    "verified": "waiting to be verified",
}


def _seconds(value: float) -> str:
    return format_duration(timedelta(seconds=round(value)))


def _approval(p: Promotion, phase: PromotionPhase) -> Step:
    required, approvals = int(p.get("approvals_required") or 0), p.get("approvals") or []
    if required == 0:
        return Step(name="approval", state=State.DONE, text="none needed")
    who = ", ".join(str(a.get("by")) for a in approvals)
    text = f"{len(approvals)} of {required} approvals" + (f" (by {who})" if who else "")
    if phase is PromotionPhase.AWAITING_APPROVAL:
        return Step(name="approval", state=State.RUNNING, text=text)
    if phase in (PromotionPhase.REJECTED, PromotionPhase.CANCELLED):
        return Step(name="approval", state=State.FAILED, text=str(p.get("outcome") or phase))
    return Step(name="approval", state=State.DONE, text=text)


def _apply(progress: dict[str, Any], phase: PromotionPhase) -> Step:
    total, applied = progress.get("objects_total"), progress.get("objects_applied")
    error = progress.get("sync_error")
    counted = f"{applied or 0}/{total} objects applied" if total is not None else ""
    if error:
        state = State.FAILED if phase is PromotionPhase.FAILED else State.RUNNING
        return Step(name="apply", state=state, text=f"{counted}; stopped at {error}".lstrip("; "))
    if total is not None and applied == total:
        return Step(name="apply", state=State.DONE, text=counted)
    if total is not None:
        return Step(name="apply", state=State.RUNNING, text=f"{counted} (syncing)")
    if phase is PromotionPhase.STARTED:
        return Step(name="apply", state=State.RUNNING, text="waiting for the sync")
    return Step(name="apply", state=State.WAITING)


def _health(progress: dict[str, Any], phase: PromotionPhase) -> Step:
    health, reasons = progress.get("health"), progress.get("health_reasons") or []
    if health is None:
        return Step(name="health", state=State.WAITING)
    more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
    text = f"{health}: {reasons[0]}{more}" if reasons and health != Health.HEALTHY else health
    if health == Health.HEALTHY:
        return Step(name="health", state=State.DONE, text=text)
    state = State.FAILED if phase is PromotionPhase.FAILED else State.RUNNING
    return Step(name="health", state=state, text=text)


_WAITING_SOAK = Step(name="soak", state=State.WAITING)


def _soak(progress: dict[str, Any], phase: PromotionPhase) -> Step:
    soak, left = progress.get("soak_seconds"), progress.get("soak_left_seconds")
    if soak is None:
        return _WAITING_SOAK
    if soak == 0:
        done = progress.get("healthy_since") or phase is PromotionPhase.COMPLETED
        return Step(name="soak", state=State.DONE, text="none") if done else _WAITING_SOAK
    healthy_for = f"healthy for {_seconds(soak)}"
    if phase is PromotionPhase.COMPLETED:
        return Step(name="soak", state=State.DONE, text=healthy_for)
    if left is None:
        return Step(name="soak", state=State.WAITING, text=f"{healthy_for} once healthy")
    return Step(name="soak", state=State.RUNNING, text=healthy_for, countdown=_seconds(left))


def _verified(p: Promotion, phase: PromotionPhase) -> Step:
    if phase is PromotionPhase.COMPLETED:
        return Step(name="verified", state=State.DONE, text=f"{short(p['release'])} verified")
    if phase.is_terminal:
        return Step(name="verified", state=State.FAILED, text=str(p.get("outcome") or phase))
    return Step(name="verified", state=State.WAITING)


def steps(p: Promotion) -> list[Step]:
    """The promotion as its five steps, in order."""
    phase, progress = PromotionPhase(p["phase"]), p.get("progress") or {}
    return [
        _approval(p, phase),
        _apply(progress, phase),
        _health(progress, phase),
        _soak(progress, phase),
        _verified(p, phase),
    ]


def waiting_for(p: Promotion) -> str:
    """What the promotion still waits for, as the end of a sentence (`awaiting approval
    (0 of 1 approvals)`)."""
    step = next((s for s in steps(p) if s.is_open), None)
    if step is None:
        return "finishing"
    detail = ", ".join(t for t in (step.text, step.countdown and f"{step.countdown} left") if t)
    return PENDING[step.name] + (f" ({detail})" if detail else "")


def outcome(p: Promotion) -> str | None:
    """How a finished promotion ended, as a sentence says it; None while it runs."""
    phase = PromotionPhase(p["phase"])
    why = p.get("outcome") or ""
    if not phase.is_terminal or phase is PromotionPhase.COMPLETED:
        return None
    if phase is PromotionPhase.SUPERSEDED:
        return f"was rolled back: {why.replace('superseded by', 'superseded by rollback')}"
    if phase is PromotionPhase.FAILED:
        return f"failed: {why}"
    return f"was {why}" if why else f"was {phase}"


_MARKS = {
    State.WAITING: ("·", "dim"),
    State.RUNNING: ("…", "yellow"),
    State.DONE: ("✓", "green"),
    State.FAILED: ("✗", "red"),
}


def headline(p: Promotion) -> str:
    """What is followed: `promotion ID: RELEASE → APP/ENV`."""
    what = "rollback" if p.get("kind") == "rollback" else "promotion"
    return f"{what} {p['id']}: {short(p['release'])} → {p['app']}/{p['environment']}"


class LiveView:
    """The steps on a terminal, redrawn by `rich.live.Live` several times a second: the
    time waited and the soak's time left move between two answers of the server."""

    def __init__(self, p: Promotion) -> None:
        from rich.spinner import Spinner

        self.promotion = p
        #: the server's last answer
        self.last: Promotion | None = None
        self.seen_at = self.started = time.monotonic()
        self.lost: str | None = None
        self._spinner = Spinner("dots", style="yellow")

    def update(self, p: Promotion) -> None:
        """A newer answer of the server."""
        self.promotion = self.last = p
        self.seen_at, self.lost = time.monotonic(), None

    def lose(self, why: str) -> None:
        """The server did not answer: said under the steps until it does."""
        self.lost = why

    def __rich__(self) -> RenderableType:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        grid = Table.grid(padding=(0, 1))
        waited = _seconds(time.monotonic() - self.started)
        title = Text(f"{headline(self.promotion)}  ({waited})", style="bold")
        since = time.monotonic() - self.seen_at
        for step in steps(self.promotion):
            mark, style = _MARKS[step.state]
            text = Text(step.text)
            if step.countdown:
                left = float(self.promotion["progress"]["soak_left_seconds"]) - since
                text.append(f", {_seconds(max(left, 0))} left", style="yellow")
            icon: Any = self._spinner if step.state is State.RUNNING else Text(mark, style=style)
            grid.add_row(icon, Text(f"{step.name:<9}", style=style), text)
        lost = [Text(f"{self.lost}; retrying", style="red")] if self.lost else []
        return Group(title, grid, *lost)


class LineLog:
    """The steps where no terminal reads them: a line for each change of a step."""

    def __init__(self, console: Console) -> None:
        self.console = console
        #: the server's last answer
        self.last: Promotion | None = None
        self._shown: dict[str, tuple[State, str]] = {}
        self._lost = False

    def update(self, p: Promotion) -> None:
        """Print each step that changed since the last answer (a waiting one untold)."""
        self.last = p
        if self._lost:
            self._line("reconnected")
            self._lost = False
        for step in steps(p):
            before = self._shown.get(step.name, (State.WAITING, ""))
            if before == (step.state, step.text):
                continue
            self._shown[step.name] = (step.state, step.text)
            # a step that only changed its state is not told its long reason again
            text = "" if step.text == before[1] else step.text
            self._line(f"{step.name:<9}{step.state:<8} {text}".rstrip())

    def lose(self, why: str) -> None:
        """The server did not answer: said once per outage."""
        if not self._lost:
            self._line(f"{why}; retrying")
            self._lost = True

    def _line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)
