"""`baton completion SHELL` prints click's script; bash sources it and completes commands."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.console_script import BATON, ROOT, run_baton


def _complete(words: str, cword: int) -> list[str]:
    """What `baton` answers a bash completion request (as the sourced script asks it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env.update(
        PYTHONPATH=str(ROOT), COMP_WORDS=words, COMP_CWORD=str(cword),
        _BATON_COMPLETE="bash_complete",
    )  # fmt: skip
    answer = subprocess.run(
        [str(BATON)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert answer.returncode == 0, answer.stderr
    return answer.stdout.splitlines()


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_completion_script_is_clicks_for_that_shell(shell: str) -> None:
    printed = run_baton("completion", shell)
    assert printed.returncode == 0, printed.stderr
    env = {"_BATON_COMPLETE": f"{shell}_source"}
    assert printed.stdout == run_baton(env=env).stdout
    assert f"_BATON_COMPLETE={shell}_" in printed.stdout


def test_completing_baton_pro_offers_promote() -> None:
    assert "plain,promote" in _complete("baton pro", 1)


def test_bash_sources_the_script_and_completes_a_command() -> None:
    bash = shutil.which("bash")
    assert bash is not None, "bash runs the completion script"
    script = run_baton("completion", "bash").stdout
    # the script's function, called as bash calls it on <tab> after `baton pro`
    check = (
        script
        + "\nCOMP_WORDS=(baton pro); COMP_CWORD=1; _baton_completion baton"
        + '\nprintf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env.update(PYTHONPATH=str(ROOT), PATH=f"{BATON.parent}{os.pathsep}{env.get('PATH', '')}")
    sourced = subprocess.run(
        [bash, "--norc", "--noprofile", "-c", check],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert sourced.returncode == 0, sourced.stderr
    assert "promote" in sourced.stdout.split(), sourced.stdout
