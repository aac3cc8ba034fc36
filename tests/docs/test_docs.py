"""The documentation: every link and anchor leads somewhere, and the generated references
say what the code says now (`make docs` writes them; this fails until it has been run)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from baton import docs

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_and_anchor_of_the_page_resolves(page: Path) -> None:
    assert docs.broken_links(page) == []


@pytest.mark.parametrize("name", sorted(docs.PAGES))
def test_the_generated_reference_is_current(name: str) -> None:
    path = ROOT / "docs" / name
    written = path.read_text()
    now = docs.expected()[path]
    assert written == now, f"docs/{name} is out of date: run make docs"


def test_the_link_checker_finds_a_missing_file_and_a_missing_anchor(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## Set-up: step 2\n\n## Set-up: step 2\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# A page\n\n"
        "[fine](other.md#set-up-step-2) [repeat](other.md#set-up-step-2-1) [here](#a-page)\n"
        "[gone](missing.md) [no such heading](other.md#step-3) [nor here](#nowhere)\n"
        "[external](https://example.com/x.md) `[in code](absent.md)`\n\n"
        "```md\n[in a block](absent.md)\n```\n"
    )
    assert docs.broken_links(page) == [
        "page.md: missing.md: missing.md does not exist",
        "page.md: other.md#step-3: other.md has no heading #step-3",
        "page.md: #nowhere: page.md has no heading #nowhere",
    ]


def test_anchors_follow_githubs_slugs() -> None:
    text = "# `baton promote`\n## Health checks of your own (Argo CD's Lua)\n## Why\n## Why\n"
    assert docs.anchors(text) == {
        "baton-promote",
        "health-checks-of-your-own-argo-cds-lua",
        "why",
        "why-1",
    }


def test_a_new_option_without_make_docs_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    from baton.cli import main

    ctx = click.Context(main, info_name="baton")
    status = main.get_command(ctx, "status")
    assert status is not None
    option = click.Option(["--colour-of-the-sky"], help="Not an option baton has.")
    monkeypatch.setattr(status, "params", [*status.params, option])
    path = ROOT / "docs" / "cli.md"
    assert "--colour-of-the-sky" not in path.read_text()
    assert "--colour-of-the-sky" in docs.expected()[path]


def test_a_variable_the_code_reads_must_be_described(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docs, "variables_read", lambda: {*docs.VARIABLES, "BATON_NEW_KNOB"})
    with pytest.raises(docs.StaleDocs, match="BATON_NEW_KNOB.*run make docs"):
        docs.configuration_reference()
