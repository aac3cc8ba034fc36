"""The environments config: valid files load, every mistake names file, line and key."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from engine.config.loader import ConfigError, load_environments

REPO_ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
apps:
  - name: shop
    repo: ${SHOP_REPO}
    branch: main
    path: deploy/
    pipeline:
      - name: dev
        cluster: kubesim:dev
        policy:
          auto_promote: true
      - name: prod
        cluster: prod-context
        policy:
          approvals: 2
          soak: 10m
          freeze:
            - cron: "0 18 * * FRI"
              duration: 62h
"""


def write(tmp_path: Path, text: str, name: str = "apps.yaml") -> Path:
    (tmp_path / name).write_text(textwrap.dedent(text))
    return tmp_path


def problems_of(directory: Path, **environ: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_environments(directory, environ=environ)
    return [str(p) for p in info.value.problems]


def test_the_shipped_sample_loads_with_three_environments_in_order() -> None:
    config = load_environments(REPO_ROOT / "environments", environ={"BATON_DEMO_REPO": "/x"})
    shop = config.app("shop")
    assert [e.name for e in shop.environments] == ["dev", "staging", "prod"]
    assert shop.environment("staging").upstream == "dev"
    assert shop.environment("prod").policy.approvals == 1
    assert len(shop.environment("prod").policy.freeze) == 2


def test_defaults_fill_namespace_upstream_and_policy(tmp_path: Path) -> None:
    config = load_environments(write(tmp_path, GOOD), environ={"SHOP_REPO": "https://g/x.git"})
    shop = config.app("shop")
    assert shop.repo == "https://g/x.git"
    assert shop.path == "deploy"
    dev, prod = shop.environments
    assert (dev.namespace, dev.upstream, dev.cluster) == ("shop-dev", None, "kubesim:dev")
    assert (prod.namespace, prod.upstream, prod.cluster) == ("shop-prod", "dev", "prod-context")
    assert prod.policy.soak == timedelta(minutes=10)
    assert prod.policy.self_heal is True
    assert prod.policy.freeze[0].duration == timedelta(hours=62)


def test_a_relative_repo_path_is_taken_from_the_config_folder(tmp_path: Path) -> None:
    text = GOOD.replace("${SHOP_REPO}", "../repos/shop")
    config = load_environments(write(tmp_path, text), environ={})
    assert config.app("shop").repo == str((tmp_path.parent / "repos" / "shop").resolve())


def test_an_unset_environment_variable_names_file_line_and_key(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, GOOD))
    assert problems == [
        f"{tmp_path / 'apps.yaml'}:3: apps[0].repo: environment variable SHOP_REPO is not set"
    ]


def test_every_mistake_is_listed_with_its_line(tmp_path: Path) -> None:
    bad = (
        GOOD.replace("approvals: 2", "approvals: -1")
        .replace("soak: 10m", "soak: ten minutes")
        .replace("auto_promote: true", "auto_promot: true")
        .replace('cron: "0 18 * * FRI"', 'cron: "61 * * *"')
    )
    problems = problems_of(write(tmp_path, bad), SHOP_REPO="/r")
    text = "\n".join(problems)
    assert ":10: apps[0].pipeline[0].policy.auto_promot: unknown key" in text
    assert ":14: apps[0].pipeline[1].policy.approvals: Input should be greater than" in text
    assert ":15: apps[0].pipeline[1].policy.soak: 'ten minutes' is not a duration" in text
    assert (
        ":17: apps[0].pipeline[1].policy.freeze[0]: "
        "freeze window '61 * * *': '61 * * *' is not cron"
    ) in text
    assert len(problems) == 4


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, "apps:\n  - name: [shop\n    repo: x\n"))
    assert len(problems) == 1
    assert ":3: not valid YAML" in problems[0]


def test_upstream_must_be_an_earlier_environment(tmp_path: Path) -> None:
    bad = GOOD.replace("cluster: prod-context", "cluster: prod-context\n        upstream: qa")
    problems = problems_of(write(tmp_path, bad), SHOP_REPO="/r")
    assert problems == [
        f"{tmp_path / 'apps.yaml'}:13: apps[0].pipeline[1].upstream: "
        "'qa' is not an environment listed before 'prod'"
    ]


def test_duplicate_environment_and_duplicate_app_are_errors(tmp_path: Path) -> None:
    write(tmp_path, GOOD.replace("name: prod", "name: dev"))
    write(tmp_path, GOOD, name="other.yaml")
    problems = problems_of(tmp_path, SHOP_REPO="/r")
    assert any("apps[0].pipeline[1].name: environment 'dev' appears twice" in p for p in problems)
    # the first file's app was rejected, so the second one is the only `shop` and loads;
    # now make both valid: the second is a duplicate of the first
    write(tmp_path, GOOD)
    problems = problems_of(tmp_path, SHOP_REPO="/r")
    assert problems == [
        f"{tmp_path / 'other.yaml'}:2: apps[0].name: app 'shop' is also "
        f"defined at {tmp_path / 'apps.yaml'}:2"
    ]


def test_freeze_needs_exactly_one_schedule_and_credentials_one_source(tmp_path: Path) -> None:
    bad = GOOD.replace('- cron: "0 18 * * FRI"', "- duration: 1h\n              timezone: UTC")
    bad = bad.replace("              duration: 62h\n", "")
    bad = bad.replace("    branch: main", "    branch: main\n    credentials:\n      username: x")
    text = "\n".join(problems_of(write(tmp_path, bad), SHOP_REPO="/r"))
    assert "apps[0].credentials: credentials need exactly one of" in text
    assert "policy.freeze[0]: a freeze window needs exactly one of 'cron' or 'rrule'" in text


def test_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    assert "no *.yaml file found" in problems_of(tmp_path)[0]


def test_a_password_in_the_repo_url_is_refused(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, GOOD), SHOP_REPO="https://bot:hunter2@git.test/x")
    assert problems == [
        f"{tmp_path / 'apps.yaml'}:3: apps[0].repo: "
        "the URL holds a password or token: use `credentials:`"
    ]
    assert "hunter2" not in "".join(problems)


def test_values_of_the_wrong_type_are_refused_and_paths_are_normalised(tmp_path: Path) -> None:
    bad = GOOD.replace("approvals: 2", 'approvals: "2"').replace("path: deploy/", "path: ./deploy")
    problems = problems_of(write(tmp_path, bad), SHOP_REPO="/r")
    assert problems == [
        f"{tmp_path / 'apps.yaml'}:14: apps[0].pipeline[1].policy.approvals: "
        "Input should be a valid integer"
    ]
    fixed = bad.replace('approvals: "2"', "approvals: 2")
    config = load_environments(write(tmp_path, fixed), environ={"SHOP_REPO": "/r"})
    assert config.app("shop").path == "deploy"


def test_a_kubesim_cluster_needs_a_name(tmp_path: Path) -> None:
    bad = GOOD.replace("kubesim:dev", "kubesim:Dev")
    problems = problems_of(write(tmp_path, bad), SHOP_REPO="/r")
    assert problems == [
        f"{tmp_path / 'apps.yaml'}:8: apps[0].pipeline[0].cluster: "
        "'kubesim:Dev': write kubesim:<name> with a lowercase name"
    ]
