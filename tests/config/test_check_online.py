"""`baton config check` asks what the config names: real Git repositories made here, real
kubesim clusters behind a kubeconfig, the real console script. Each problem is one line at
the file and line of the key to fix; `--offline` checks the files only."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from engine.git.sample import SampleRepo, create_sample_repo
from kubesim import start_clusters
from tests.console_script import run_baton

CONFIG = """\
apps:
  - name: shop
    repo: {repo}
    branch: {branch}
    path: {path}
    pipeline:
      - name: dev
        cluster: kubesim:dev
      - name: prod
        cluster: {prod}
"""
REPO_LINE, BRANCH_LINE, PATH_LINE, PROD_CLUSTER_LINE = 3, 4, 5, 10


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleRepo:
    """The shop's repository: manifests under deploy/, a kustomization that cannot build
    under broken/, and a second branch."""
    repo = create_sample_repo(tmp_path_factory.mktemp("git"))
    repo.release("1.0.0", "Welcome", "shop 1.0.0")
    repo.commit({"broken/kustomization.yaml": "resources:\n  - missing.yaml\n"}, "a kustomization")
    repo.on_branch("release")
    return repo


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Clusters dev and prod in kubesim, plus a context `gone` whose server is not there."""
    path = tmp_path_factory.mktemp("kube") / "kubeconfig"
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with start_clusters(["dev", "prod"], kubeconfig_path=path):
        document = yaml.safe_load(path.read_text())
        document["clusters"].append(
            {"name": "gone", "cluster": {"server": f"http://127.0.0.1:{closed}"}}
        )
        document["contexts"].append(
            {"name": "gone", "context": {"cluster": "gone", "user": "kubesim"}}
        )
        path.write_text(yaml.safe_dump(document))
        yield path


def write_config(folder: Path, **values: str) -> Path:
    """environments/shop.yaml with CONFIG's defaults, some replaced."""
    folder.mkdir(exist_ok=True)
    file = folder / "shop.yaml"
    file.write_text(CONFIG.format(**{"branch": "main", "path": "deploy", **values}))
    return file


def check(folder: Path, *args: str) -> tuple[int, list[str], list[str]]:
    """Run `baton config check`; exit code, stdout lines, stderr lines."""
    result = run_baton("config", "check", "--dir", str(folder), *args)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout.splitlines(), result.stderr.splitlines()


def test_a_config_whose_sources_and_clusters_are_all_there_passes(
    sample: SampleRepo, kubeconfig: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "environments"
    write_config(folder, repo=str(sample.remote), prod="kubesim:prod")
    code, out, err = check(folder, "--kubeconfig", str(kubeconfig))
    assert (code, err) == (0, [])
    assert f"ok shop: {sample.remote} (main:deploy) dev → prod" in out
    assert out[-1] == "all checks passed: 1 app(s), 2 cluster(s)"
    # as `baton serve` runs without a kubeconfig: it emulates the kubesim clusters itself
    code, out, err = check(folder)
    assert (code, err) == (0, [])
    assert out[-1].endswith("2 kubesim cluster(s) emulated by `baton serve`")


@pytest.mark.parametrize(
    ("values", "line", "problem"),
    [
        (
            {"branch": "mian"},
            BRANCH_LINE,
            'branch "mian" does not exist in {repo} (did you mean "main"?); '
            "branches: main, release",
        ),
        ({"path": "nowhere"}, PATH_LINE, 'path "nowhere" does not exist on branch main'),
        ({"path": "deploy/service.yaml"}, PATH_LINE, 'path "deploy/service.yaml" does not'),
        ({"path": "broken"}, PATH_LINE, "the manifests at main:broken do not render for dev, prod"),
        ({"prod": "nope"}, PROD_CLUSTER_LINE, 'context "nope" is not in {kubeconfig}'),
        ({"prod": "gone"}, PROD_CLUSTER_LINE, 'the API server of context "gone" does not answer'),
    ],
)
def test_each_missing_thing_is_one_line_at_its_key_and_offline_skips_it(
    values: dict[str, str],
    line: int,
    problem: str,
    sample: SampleRepo,
    kubeconfig: Path,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "environments"
    file = write_config(folder, **{"repo": str(sample.remote), "prod": "kubesim:prod", **values})
    code, out, err = check(folder, "--kubeconfig", str(kubeconfig))
    assert code == 1, (out, err)
    where = "app shop, environment prod" if line == PROD_CLUSTER_LINE else "app shop"
    expected = problem.format(repo=sample.remote, kubeconfig=kubeconfig)
    assert err[0].startswith(f"{file}:{line}: {where}: {expected}"), err
    assert err[1:] == ["1 problem(s) in 1 app(s), 2 cluster(s)"]
    assert not [o for o in out if o.startswith("ok shop")]  # not called ok when it is not
    code, out, err = check(folder, "--kubeconfig", str(kubeconfig), "--offline")
    assert (code, err) == (0, [])
    assert out[-1] == "offline: repositories and clusters were not checked"


def test_a_repository_that_never_answers_ends_the_check_within_its_timeout(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "environments"
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/shop.git"
        file = write_config(folder, repo=url, prod="kubesim:prod")
        started = time.monotonic()
        code, _, err = check(folder, "--timeout", "1s")
        took = time.monotonic() - started
    assert code == 1
    assert err[0] == (
        f"{file}:{REPO_LINE}: app shop: repository {url} does not answer "
        "(git ls-remote: no answer within 1s); check the URL, the network and `credentials:`"
    )
    assert took < 10


def test_a_refused_connection_is_said_at_once(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/shop.git"
    folder = tmp_path / "environments"
    file = write_config(folder, repo=url, prod="kubesim:prod")
    code, _, err = check(folder, "--timeout", "30s")
    assert code == 1
    assert err[0].startswith(f"{file}:{REPO_LINE}: app shop: repository {url} does not answer")
    assert "Connection refused" in err[0] or "Failed to connect" in err[0], err[0]


def test_an_invalid_file_exits_2_before_anything_is_asked(tmp_path: Path) -> None:
    folder = tmp_path / "environments"
    folder.mkdir()
    (folder / "shop.yaml").write_text("apps:\n  - name: shop\n    repo: x\n    pipline: []\n")
    code, _, err = check(folder)
    assert code == 2
    assert f"{folder / 'shop.yaml'}:4: apps[0].pipline: unknown key" in err


def test_a_cluster_that_never_answers_ends_the_check_within_its_timeout(
    sample: SampleRepo, tmp_path: Path
) -> None:
    folder = tmp_path / "environments"
    file = write_config(folder, repo=str(sample.remote), prod="silent")
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        server = f"http://127.0.0.1:{silent.getsockname()[1]}"
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "silent", "cluster": {"server": server}}],
                    "users": [{"name": "u", "user": {"token": "t"}}],
                    "contexts": [{"name": "silent", "context": {"cluster": "silent", "user": "u"}}],
                    "current-context": "silent",
                }
            )
        )
        started = time.monotonic()
        code, _, err = check(folder, "--kubeconfig", str(kubeconfig), "--timeout", "1s")
        took = time.monotonic() - started
    assert code == 1
    # in the order of the file: kubesim:dev is not in that kubeconfig, and is said too
    assert err[0].startswith(f'{file}:8: app shop, environment dev: context "dev" is not in')
    assert err[1].startswith(
        f"{file}:{PROD_CLUSTER_LINE}: app shop, environment prod: the API server of context "
        '"silent" does not answer (no answer within 1s)'
    ), err
    assert took < 10


def test_a_credential_that_is_not_set_is_named_at_its_key(
    sample: SampleRepo, tmp_path: Path
) -> None:
    folder = tmp_path / "environments"
    file = write_config(folder, repo=str(sample.remote), prod="kubesim:prod")
    text = file.read_text().replace(
        "    pipeline:", "    credentials:\n      token_env: SHOP_TOKEN_NOT_SET\n    pipeline:"
    )
    file.write_text(text)
    code, _, err = check(folder)
    assert code == 1
    assert err[0] == (
        f"{file}:6: app shop: environment variable SHOP_TOKEN_NOT_SET is not set; "
        "set it, or fix `credentials:`"
    )
