"""The schemathesis command line both runs use: the suite's seeded one and `make fuzz`.

Where it sits: imported by `test_openapi.py` and `fuzz.py`, so the checks, the excluded
operations and the options are written once.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: what an answer must satisfy: never a 5xx, and always what the document says
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    )
)
#: an endless text/event-stream by design: a positive request would never be answered
EXCLUDED_PATHS = ("/events/stream",)


def schemathesis_command(
    base: str,
    token: str,
    *,
    max_examples: int,
    seed: int,
    ndjson_report: Path | None = None,
) -> list[str]:
    """`schemathesis run` over every operation at `base`, positive and negative data."""
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{base}/openapi.json",
        "--url",
        base,
        "--checks",
        CHECKS,
        "--mode",
        "all",
        "--max-examples",
        str(max_examples),
        "--seed",
        str(seed),
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--header",
        f"Authorization: Bearer {token}",
        "--request-timeout",
        "10",
        "--no-color",
    ]
    for path in EXCLUDED_PATHS:
        command += ["--exclude-path", path]
    if ndjson_report is not None:
        command += ["--report", "ndjson", "--report-ndjson-path", str(ndjson_report)]
    return command
