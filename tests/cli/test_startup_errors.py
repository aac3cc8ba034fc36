"""Start-up and CLI failures as an operator meets them: the real `baton` console script,
one line on stderr that names the problem and the next step, the README's exit code."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.console_script import assert_one_line_failure, run_baton

APP = """\
apps:
  - name: shop
    repo: {repo}
    branch: main
    path: deploy
    pipeline:
      - name: dev
        cluster: kubesim:dev
"""


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on (taken from the kernel, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port some other process listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.fixture
def environments(tmp_path: Path) -> Path:
    """A valid environments folder whose app's repository exists."""
    folder = tmp_path / "environments"
    folder.mkdir()
    (tmp_path / "shop.git").mkdir()
    (folder / "shop.yaml").write_text(APP.format(repo=tmp_path / "shop.git"))
    return folder


@pytest.mark.parametrize("command", [("audit", "verify"), ("migrate",), ("serve", "--port", "0")])
def test_an_unreachable_database_is_named_in_one_line_with_exit_3(
    command: tuple[str, ...], closed_port: int, environments: Path
) -> None:
    # a name longer than a line of 80 columns: the message must not be wrapped in a pipe
    database = "baton_" + "x" * 100
    url = f"postgresql://postgres@127.0.0.1:{closed_port}/{database}"
    result = run_baton(
        *command, env={"BATON_DATABASE_URL": url, "BATON_ENVIRONMENTS": str(environments)}
    )
    assert_one_line_failure(
        result, 3, f"cannot reach PostgreSQL at 127.0.0.1:{closed_port}/{database}", "start it"
    )


def test_a_malformed_database_url_is_bad_usage_exit_2() -> None:
    result = run_baton("audit", "verify", env={"BATON_DATABASE_URL": "not a url"})
    assert_one_line_failure(
        result, 2, "BATON_DATABASE_URL is not a PostgreSQL URL", "postgresql://"
    )


def test_a_refused_login_names_the_server_and_keeps_the_password_out(pg_admin_url: str) -> None:
    # the test servers trust every local login, so an unknown role stands in for a wrong
    # password: both are the server refusing the login (InvalidAuthorizationSpecification)
    parts = urlsplit(pg_admin_url)
    host = parts.netloc.rpartition("@")[2]
    url = urlunsplit(parts._replace(netloc=f"nobody_here:s3cret@{host}"))
    line = assert_one_line_failure(
        run_baton("replay", env={"BATON_DATABASE_URL": url}),
        3,
        "refused the login",
        'role "nobody_here" does not exist',
        "check the user and password in BATON_DATABASE_URL",
    )
    assert "s3cret" not in line


def test_a_missing_database_is_named_with_how_to_create_it(pg_admin_url: str) -> None:
    url = urlunsplit(urlsplit(pg_admin_url)._replace(path="/no_such_baton_db"))
    result = run_baton("audit", "verify", env={"BATON_DATABASE_URL": url})
    assert_one_line_failure(result, 3, "'no_such_baton_db' does not exist", "createdb")


def test_a_port_in_use_is_named_before_anything_starts(
    held_port: int, closed_port: int, environments: Path
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{closed_port}/x"  # never reached: the port fails first
    result = run_baton(
        "serve",
        "--port",
        str(held_port),
        env={"BATON_DATABASE_URL": url, "BATON_ENVIRONMENTS": str(environments)},
    )
    assert_one_line_failure(
        result, 2, f"cannot listen on 127.0.0.1:{held_port}", "already in use", "--port"
    )


def test_an_invalid_environments_file_is_named_by_file_and_line(
    environments: Path, closed_port: int
) -> None:
    (environments / "shop.yaml").write_text("apps:\n  - name: shop\n    branch: [main\n")
    result = run_baton(
        "serve",
        "--port",
        "0",
        env={
            "BATON_ENVIRONMENTS": str(environments),
            "BATON_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{closed_port}/x",
        },
    )
    assert_one_line_failure(
        result, 2, f"{environments / 'shop.yaml'}:4", "not valid YAML", "baton config check"
    )


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("tokens:\n  - subject: ops\n    roles: [viewer\n", ":4", "not valid YAML"),
        ("tokens:\n  - subject: ops\n    roles: [viewer]\n", ":2: tokens[0]", "needs a token"),
    ],
)
def test_an_invalid_tokens_file_is_named_by_file_and_line(
    text: str, where: str, problem: str, tmp_path: Path, environments: Path
) -> None:
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(text)
    result = run_baton(
        "serve",
        "--port",
        "0",
        env={"BATON_TOKENS_FILE": str(tokens), "BATON_ENVIRONMENTS": str(environments)},
    )
    line = assert_one_line_failure(result, 2, f"{tokens}{where}", problem, "BATON_TOKENS_FILE")
    assert "<unicode string>" not in line


def test_a_missing_git_repository_is_named_with_its_config_file(
    environments: Path, tmp_path: Path
) -> None:
    (environments / "shop.yaml").write_text(APP.format(repo=tmp_path / "gone.git"))
    result = run_baton("git", "poll", env={"BATON_ENVIRONMENTS": str(environments)})
    assert_one_line_failure(
        result,
        1,
        str(environments / "shop.yaml"),
        f"app shop: repo {tmp_path / 'gone.git'} does not exist",
    )


def test_usage_errors_are_one_line_too() -> None:
    result = run_baton("audit", "verify", "--bogus")
    assert_one_line_failure(result, 2, "baton audit verify", "--bogus", "--help")


def test_output_into_a_pipe_is_not_wrapped_at_80_columns(tmp_path: Path) -> None:
    folder = tmp_path / ("environments-" + "y" * 90)
    folder.mkdir()
    repo = folder / "shop.git"
    (folder / "shop.yaml").write_text(APP.format(repo=repo))
    result = run_baton("config", "check", "--offline", env={"BATON_ENVIRONMENTS": str(folder)})
    assert result.returncode == 0, result.stderr
    assert f"ok shop: {repo} (main:deploy) dev" in result.stdout.splitlines()
