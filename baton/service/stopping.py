"""How `baton serve` stops: SIGTERM or SIGINT starts it, the parts unwind, traces go out.

Where it sits: used by `baton.cli.serve` around `baton.service.serve.running()`, whose
exit stack does the unwinding in this order: the HTTP site stops listening, requests in
flight get the stop grace (`BATON_STOP_GRACE`) and live tails end, the appliers close the
syncs they are in, the supervisor stops every other task, the database closes. Then the spans still
batched are exported, and one line says how long it all took.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time

from opentelemetry.sdk.trace import TracerProvider

from engine.telemetry import shutdown_tracing

log = logging.getLogger("baton")
#: seconds the last spans get to reach the collector
_TRACES_GRACE_S = 2.0


class Stop:
    """Set once by SIGTERM, SIGINT or `now()`; remembers why and since when."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._since: float | None = None

    def on_signals(self) -> None:
        """SIGTERM and SIGINT stop; later ones are no-ops (no KeyboardInterrupt midway)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.now, sig.name)

    def now(self, reason: str) -> None:
        """Start stopping, for `reason` (the first call counts)."""
        if self._since is not None:
            return
        self._since = time.monotonic()
        log.info("baton stopping (%s): no new connections; finishing requests and syncs", reason)
        self._event.set()

    async def wait(self) -> None:
        """Return once stopping has started."""
        await self._event.wait()

    def done(self, tracing: TracerProvider) -> None:
        """Export the last spans; log how long the stop took."""
        if not shutdown_tracing(tracing, within=_TRACES_GRACE_S):
            log.warning("traces not exported within %.0fs; dropped", _TRACES_GRACE_S)
        if self._since is not None:
            log.info("baton stopped in %.1fs", time.monotonic() - self._since)
