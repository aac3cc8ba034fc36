"""`baton health ...`: the health checks from the command line, no database needed.

Where it sits: beside `baton config`. `health test DIR` runs Argo CD's `health_test.yaml`
files against the `health.lua` beside each (engine.health_suite) and reports every case;
`health explain FILE|-` shows, for each object of a manifest, the verdict, its message
and the rule that gave it (engine.health.explain), with the user's checks of the
environments config (or of `--checks`, a folder in Argo CD's layout). Both print a table, or
with `-o json|yaml` every row under `items` (docs/cli-output.md). Exit codes follow
`baton.cli.errors`: 0 done (every case passed), 1 a case failed or a config mistake.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from baton.cli.console import make_console
from baton.cli.errors import ExitCode, Failure, fail
from baton.cli.output import OUTPUT, is_data, print_data

if TYPE_CHECKING:
    from engine.health.lua import CustomChecks
    from engine.health_suite import CaseResult


@click.group()
def health() -> None:
    """Health checks: run Argo CD's health tests, explain verdicts."""


@health.command("test")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@OUTPUT
def health_test(directory: Path, output: str) -> None:
    """Run every health_test.yaml under DIRECTORY against the health.lua beside it."""
    from engine.health.lua import CustomChecks
    from engine.health_suite import find_test_files, run_test_file

    files = find_test_files(directory)
    if not files:
        fail(Failure(f"no health_test.yaml under {directory}", None, ExitCode.REFUSED))
    checks = CustomChecks()
    cases = [case for test_file in files for case in run_test_file(test_file, checks)]
    failed = sum(not case.passed for case in cases)
    if is_data(output):
        shown = {
            "items": [_case(c) for c in cases],
            "passed": len(cases) - failed,
            "failed": failed,
        }
        print_data(shown, output)
        sys.exit(ExitCode.REFUSED if failed else ExitCode.DONE)
    for case in cases:
        where = f"{case.script.parent.relative_to(directory)} {case.input_path}"
        if case.passed:
            click.echo(f"PASS {where}: {case.got[0]} {case.got[1]!r}")
        else:
            click.echo(
                f"FAIL {where}: expected {case.expected[0]} {case.expected[1]!r}, "
                f"got {case.got[0]} {case.got[1]!r}"
            )
    passed = len(cases) - failed
    click.echo(f"{passed} passed, {failed} failed")
    if failed:
        sys.exit(ExitCode.REFUSED)


@health.command("explain")
@click.argument("manifest", type=click.File("r", encoding="utf-8"))
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Environments config whose `health:` checks apply (default: BATON_ENVIRONMENTS or "
    "./environments, when it exists).",
)
@click.option(
    "--checks",
    "checks_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A folder of <group>/<kind>/health.lua (Argo CD's layout) instead of the config's.",
)
@OUTPUT
def health_explain(
    manifest: Any, directory: Path | None, checks_dir: Path | None, output: str
) -> None:
    """Verdict, message and deciding rule of each object in MANIFEST (YAML or JSON; - for
    stdin)."""
    import yaml
    from rich.table import Table

    from engine.health.explain import explain
    from engine.render.yamldocs import load_all

    try:
        objects = load_all(manifest.read())
    except yaml.YAMLError as exc:
        fail(Failure(f"{manifest.name}: not YAML or JSON: {exc}", None, ExitCode.REFUSED))
    rows = explain(objects, _checks(directory, checks_dir))
    if is_data(output):
        print_data({"items": [r.as_json() for r in rows]}, output)
        return
    wide = output == "wide"
    table = Table("object", *(["api version"] if wide else []), "health", "message", "rule")
    for r in rows:
        where = f"{r.namespace}/" if r.namespace else ""
        cells = [f"{r.kind} {where}{r.name}", str(r.status), r.message, r.rule]
        table.add_row(*([*cells[:1], r.api_version, *cells[1:]] if wide else cells))
    make_console(unbounded=wide).print(table)


def _case(case: CaseResult) -> dict[str, Any]:
    """One case of a health test as `-o json|yaml` prints it."""
    return {
        "script": str(case.script),
        "input": case.input_path,
        "passed": case.passed,
        "expected": {"status": case.expected[0], "message": case.expected[1]},
        "got": {"status": case.got[0], "message": case.got[1]},
    }


def _checks(directory: Path | None, checks_dir: Path | None) -> CustomChecks | None:
    """The user's checks: of `checks_dir`, or of the environments config if there is one."""
    from engine.config.health import compile_dir
    from engine.config.loader import ConfigError, load_environments
    from engine.health.lua import CustomChecks
    from engine.settings import Settings

    if checks_dir is not None:
        checks = CustomChecks()
        problems: list[str] = []
        if not compile_dir(checks, checks_dir, lambda _k, m, at: problems.append(_at(m, at))):
            fail(Failure("; ".join(problems), "fix the script", ExitCode.REFUSED))
        return checks
    directory = directory or Settings.from_env().environments_dir
    if not directory.is_dir():
        return None
    try:
        return load_environments(directory).health
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        fail(Failure(f"{len(exc.problems)} problem(s) in {directory}", None, ExitCode.REFUSED))


def _at(message: str, at: tuple[str, int] | None) -> str:
    return f"{at[0]}:{at[1]}: {message}" if at else message
