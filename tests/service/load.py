"""A steady write load on a served baton: promotions across apps, as a client retrying
with its Idempotency-Key would send them, and a record of every answer."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from tests.service.baton_process import TOKENS, Site, call

TERMINAL = {"completed", "failed", "rejected", "cancelled", "superseded"}


@dataclass
class Answer:
    """One answer to a write: when it came and what it said."""

    at: float
    status: int
    promotion: str | None = None


@dataclass
class PromotionLoad:
    """Promote each app's dev between two releases, in turn, until stopped."""

    site: Site
    base: str
    interval: float = 0.05
    answers: list[Answer] = field(default_factory=list)
    acknowledged: dict[str, str] = field(default_factory=dict)  # promotion id -> app
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> PromotionLoad:
        """Begin sending, in a thread."""
        self._thread = threading.Thread(target=self._run, name="promotion-load", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sending and wait for the last request."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def _run(self) -> None:
        turn = {app: 0 for app in self.site.apps}
        held: str | None = None  # an awaiting-approval promotion into the gated environment
        while not self._stop.is_set():
            for app in self.site.apps:
                release = self.site.releases[turn[app] % len(self.site.releases)]
                if self._promote(app, "dev", release) is not None:
                    turn[app] += 1
                held = self._cycle_gated(held)
                time.sleep(self.interval)
        if held:  # it would wait for an approval forever
            call(self.base, "POST", f"/promotions/{held}/cancel", {"reason": "load over"})

    def _cycle_gated(self, held: str | None) -> str | None:
        """A write the database alone decides, whatever the clusters do: ask for a promotion
        that awaits approval, then cancel it, and again."""
        if held is None:
            return self._promote(self.site.apps[0], "prod", self.site.releases[-1])
        status, _ = self._send(f"/promotions/{held}/cancel", {"reason": "load"})
        return None if status == 200 or status == 409 else held

    def _promote(self, app: str, environment: str, release: str) -> str | None:
        """Ask once; the promotion's id if accepted (or this release is already there)."""
        body = {"app": app, "environment": environment, "release": release, "reason": "load"}
        status, answer = self._send("/promotions", body)
        if status == 202:
            promotion: str = answer["id"]
            self.acknowledged[promotion] = app
            return promotion
        # 409: a promotion in flight, or this release already there: next time, the other
        if isinstance(answer, dict) and answer.get("type", "").endswith("already-desired"):
            return ""
        return None

    def _send(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """POST, retrying with the same Idempotency-Key while the server cannot answer."""
        key = str(uuid.uuid4())
        while True:
            status, answer = call(
                self.base, "POST", path, body, headers={"Idempotency-Key": key}, timeout=15
            )
            promotion = answer.get("id") if status < 300 and isinstance(answer, dict) else None
            self.answers.append(Answer(at=time.monotonic(), status=status, promotion=promotion))
            busy = isinstance(answer, dict) and str(answer.get("type")).endswith("in-progress")
            if (status not in (0, 503) and not busy) or self._stop.is_set():
                return status, answer
            time.sleep(0.1)

    @property
    def statuses(self) -> Counter[int]:
        """How many answers of each status."""
        return Counter(a.status for a in self.answers)

    def server_errors(self) -> list[int]:
        """Every 5xx other than 503: each is a bug."""
        return [a.status for a in self.answers if a.status >= 500 and a.status != 503]

    def first_write_after(self, moment: float) -> float | None:
        """Seconds from `moment` to the first 2xx write after it."""
        return next(
            (a.at - moment for a in self.answers if a.at >= moment and a.status < 300), None
        )

    async def check_log(self, database_url: str) -> tuple[list[str], list[str]]:
        """(acknowledged promotions missing from the log, promotions recorded twice or more)."""
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch(
                "SELECT data->>'promotion_id' AS id, count(*) AS n FROM events"
                " WHERE type = 'Target.PromotionRequested' GROUP BY 1"
            )
        finally:
            await conn.close()
        recorded = {r["id"]: r["n"] for r in rows}
        lost = [p for p in self.acknowledged if p not in recorded]
        return lost, [p for p, n in recorded.items() if n > 1]

    def unfinished(self) -> dict[str, Any]:
        """The acknowledged promotions not yet in a terminal phase: id -> phase."""
        left = {}
        for promotion in self.acknowledged:
            status, body = call(self.base, "GET", f"/promotions/{promotion}", token=TOKENS["alice"])
            phase = body.get("phase") if status == 200 and isinstance(body, dict) else status
            if phase not in TERMINAL:
                left[promotion] = phase
        return left
