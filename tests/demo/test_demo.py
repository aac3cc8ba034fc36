"""`baton demo --once`: the newcomer's story runs end to end, in this process, and says
each step; the tokens it is given are the ones its people use and print."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from baton.demo import CannotTell, people, story

ROOT = Path(__file__).resolve().parents[2]
#: tokens given as an operator would give them (BATON_TOKENS), instead of made by the demo
GIVEN = {
    "alice": ("promoter+approver@prod", "alice-given-token-0001"),
    "bob": ("approver@prod+viewer", "bob-given-token-0002"),
    "admin": ("admin", "admin-given-token-0003"),
}
STEPS = [
    r"console http://127\.0\.0\.1:\d+/ sign in with a token:",
    r"alice promoter, approver:prod alice-given-token-0001",
    r"bob approver:prod, viewer bob-given-token-0002",
    r"admin admin admin-given-token-0003",
    r"1\. A commit becomes a release and reaches dev by itself",
    r"commit [0-9a-f]{12} is release #1",
    r"dev runs [0-9a-f]{12}: Healthy, Synced \(auto-promoted\)",
    r"staging runs [0-9a-f]{12}: Healthy and verified after its soak",
    r"alice asked: promotion [0-9a-f-]{36} is\s+awaiting_approval",
    # the four-eyes rule, not a missing role: alice is an approver in prod
    r"four eyes: alice tries to approve it too, refused: alice requested promotion "
    r"[0-9a-f-]{36} and cannot also approve it",
    r"bob approved: promotion is started",
    r"prod runs [0-9a-f]{12}: Healthy, verified",
    r"staging: [0-9a-f-]{36} failed: Degraded after sync",
    r"rolled back [0-9a-f]{12}",
    r"staging runs [0-9a-f]{12} again",
    r"detected: drift in 1 objects: ConfigMap shop/shop-config",
    r"corrected: corrected drift of ConfigMap shop/shop-config",
    r"the pipeline",
    r"lineage of release #1",
    r"the audit trail",
    r"replay --verify: every read model equals a rebuild at position \d+",
    r"audit verify: \d+ events, hash chain intact",
    r"the story is complete",
]


@pytest.mark.timeout(300)
async def test_the_demo_tells_the_whole_story(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # the story sets these in the environment; set-then-deleted, they are restored after it
    for name in (
        "BATON_DEMO_REPO",
        "BATON_GIT_POLL_INTERVAL",
        "BATON_DRIFT_INTERVAL",
        "BATON_HEALTH_INTERVAL",
        "BATON_API_PORT",
        "BATON_TOKENS_FILE",
    ):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("BATON_ENVIRONMENTS", str(ROOT / "environments"))
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("BATON_TOKENS", ";".join(f"{w}:{r}:{t}" for w, (r, t) in GIVEN.items()))
    await story(once=True, home=tmp_path, database_url=database_url)
    output = re.sub(r"\s+", " ", capsys.readouterr().out)
    position = 0
    for step in STEPS:
        found = re.compile(step).search(output, position)
        assert found, f"the demo did not say {step!r} (after position {position})"
        position = found.end()


@pytest.mark.parametrize(
    ("tokens", "lacking"),
    [
        (
            "alice:promoter:alice-token-01;bob:approver@prod:bob-token-0002;admin:admin:admin-tok-3",
            "alice as approver in prod",
        ),
        ("alice:promoter+approver@prod:alice-token-01;admin:admin:admin-tok-3", "a token of bob"),
        (
            "alice:promoter+approver@prod:alice-token-01;bob:viewer:bob-token-0002;"
            "admin:promoter:admin-tok-3",
            "bob as approver in prod, admin as admin",
        ),
    ],
)
def test_given_tokens_that_lack_a_person_or_a_role_are_named_in_one_sentence(
    tokens: str, lacking: str
) -> None:
    with pytest.raises(CannotTell) as refused:
        people({"BATON_TOKENS": tokens})
    line = refused.value.failure.line
    assert f"lack what the demo's story needs: {lacking};" in line
    assert "\n" not in line and "token-0" not in line and "tok-3" not in line


def test_tokens_from_a_file_are_the_people_of_the_story(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(
        "tokens:\n"
        + "".join(
            f"  - {{subject: {who}, roles: [{roles.replace('+', ', ')}], token: {token}}}\n"
            for who, (roles, token) in GIVEN.items()
        )
    )
    book, cast = people({"BATON_TOKENS_FILE": str(path)})
    assert {who: person.token for who, person in cast.items()} == {
        who: token for who, (_, token) in GIVEN.items()
    }
    assert cast["alice"].roles == ("promoter", "approver:prod")
    assert len(book) == 3


def test_without_given_tokens_each_person_gets_a_token_of_their_own() -> None:
    book, cast = people({})
    assert sorted(cast) == ["admin", "alice", "bob"]
    assert len({person.token for person in cast.values()}) == 3
    for who, person in cast.items():
        principal = book.authenticate(person.token)
        assert principal is not None and principal.subject == who
