"""Fixtures of the observability tests: spans captured in memory, a live API on the
appliers' stage.

The global tracer provider can be set once per process, so the session installs a
switch: a provider that hands out no-op tracers (exactly as if no provider were set)
except while a test of this folder holds the `spans` fixture, which points it at a real
`engine.telemetry.tracer_provider()` with an in-memory exporter. Other test modules run
as if tracing were off, whatever the order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api.app import init_app
from engine.settings import Settings
from engine.telemetry import (
    instrument_kubernetes_client,
    tracer_provider,
    uninstrument_kubernetes_client,
)
from tests.api.conftest import api_config, token_of
from tests.appliers.conftest import Stage, sim, stage  # fixtures, shared

__all__ = ["Stage", "api_config", "sim", "stage", "token_of"]


class _SwitchedTracer(trace.Tracer):
    """A tracer of whatever provider the switch points at (a no-op one when none)."""

    def __init__(self, switch: SwitchProvider, name: str, version: str | None) -> None:
        self._switch, self._name, self._version = switch, name, version

    def _real(self) -> trace.Tracer:
        delegate = self._switch.delegate
        if delegate is None:
            return trace.NoOpTracer()
        return delegate.get_tracer(self._name, self._version)

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        return self._real().start_span(*args, **kwargs)

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        return self._real().start_as_current_span(*args, **kwargs)


class SwitchProvider(trace.TracerProvider):
    """The process's provider in tests; `delegate` turns tracing on."""

    def __init__(self) -> None:
        self.delegate: TracerProvider | None = None

    def get_tracer(
        self, name: str, version: str | None = None, *args: Any, **kwargs: Any
    ) -> trace.Tracer:
        return _SwitchedTracer(self, name, version)


@pytest.fixture(scope="session")
def switch() -> SwitchProvider:
    """The session-wide tracer provider (installed once)."""
    provider = SwitchProvider()
    trace.set_tracer_provider(provider)
    installed = trace.get_tracer_provider()
    assert installed is provider, f"another tracer provider was installed first: {installed}"
    return provider


@pytest.fixture
def traced(switch: SwitchProvider) -> Iterator[Any]:
    """A function that turns tracing on with a provider of `engine.telemetry`'s making."""
    made: list[TracerProvider] = []

    def turn_on(provider: TracerProvider) -> TracerProvider:
        made.append(provider)
        switch.delegate = provider
        instrument_kubernetes_client()
        return provider

    yield turn_on
    switch.delegate = None
    uninstrument_kubernetes_client()
    for provider in made:
        provider.shutdown()


@pytest.fixture
def spans(traced: Any) -> InMemorySpanExporter:
    """Every span ended during the test, in memory."""
    exporter = InMemorySpanExporter()
    traced(tracer_provider(env={}, processor=SimpleSpanProcessor(exporter)))
    return exporter


async def live_api(database_url: str, tmp_path: Path, **config: Any) -> TestClient:
    """The API on the test's database (start it with `async with`)."""
    settings = Settings(
        database_url=database_url,
        home=tmp_path / "api-home",
        environments_dir=tmp_path / "environments",
    )
    app = init_app(settings=settings, config=api_config(**config))
    return TestClient(TestServer(app))


def of_trace(spans: Sequence[ReadableSpan], trace_id: str) -> list[ReadableSpan]:
    """The spans of one trace."""
    return [s for s in spans if s.context is not None and f"{s.context.trace_id:032x}" == trace_id]
