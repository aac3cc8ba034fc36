"""The online half of `baton config check`: do the sources and clusters a config names exist?

Where it sits: after ``engine.config.loader`` has found the files valid, and before anything
runs from them. For each app: its repository answers (``ls-remote``), its branch is there,
its path is there on that branch (a shallow fetch into a scratch folder, never the
watcher's mirrors), and its manifests render for every environment, with the renderer the
watcher and the appliers use. For each cluster an environment names: its context is in the
kubeconfig and its API server answers. Everything runs at once; each network step has a
timeout, so an unreachable host costs that long, not a hang. Each problem is a
:class:`ConfigProblem` at the line of the key to fix (``repo:``, ``branch:``, ``path:``,
``cluster:``), found again in the file with the loader's line map.
"""

from __future__ import annotations

import asyncio
import difflib
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config.loader import ConfigProblem, EnvironmentsConfig
from engine.config.yamlsource import LineMap, YamlSyntaxError, load_with_lines
from engine.domain.pipeline import AppSpec
from engine.git.credentials import CredentialsError, resolve_auth
from engine.git.mirror import GitSourceError, Mirror
from engine.kube.clusters import KUBESIM_PREFIX, Clusters
from engine.kube.probe import KubeconfigError, NoAnswer, kubeconfig_contexts, ping
from engine.render import render_manifests
from engine.render.objects import RenderError

DEFAULT_TIMEOUT_S = 5.0
_GIT_THREADS = 8
_SHOWN = 10  # names listed in a message (branches, contexts) before "…"

_KeyPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What the online checks found, and what they covered."""

    problems: tuple[ConfigProblem, ...]
    failed: frozenset[str]  # apps with a problem of their own or of one of their clusters
    clusters: tuple[str, ...]  # every cluster asked
    emulated: tuple[str, ...]  # kubesim:* clusters `baton serve` starts itself: not asked


async def probe_config(
    config: EnvironmentsConfig, *, kubeconfig: str | None, timeout_s: float = DEFAULT_TIMEOUT_S
) -> ProbeResult:
    """Check every app's source and every cluster of ``config`` at once.

    ``kubeconfig`` is the one ``baton serve`` is given (None: ``kubesim:*`` clusters are
    emulated by ``serve`` and not asked; other contexts come from ``KUBECONFIG`` or
    ``~/.kube/config``). ``timeout_s`` bounds each network step.
    """
    lines = _Lines()
    pool = ThreadPoolExecutor(max_workers=_GIT_THREADS, thread_name_prefix="config-probe")
    loop = asyncio.get_running_loop()
    clusters = _clusters_to_ask(config.apps, emulate=kubeconfig is None)
    with tempfile.TemporaryDirectory(prefix="baton-check-") as scratch:
        try:
            sources = asyncio.gather(
                *(
                    loop.run_in_executor(pool, _probe_source, app, Path(scratch), timeout_s)
                    for app in config.apps
                )
            )
            found, cluster_problems = await asyncio.gather(
                sources, _probe_clusters(clusters, kubeconfig=kubeconfig, timeout_s=timeout_s)
            )
        finally:
            # git runs with a kill timeout: every thread ends within it
            pool.shutdown(wait=True)
    problems: list[ConfigProblem] = []
    failed: set[str] = set()
    for app, app_problems in zip(config.apps, found, strict=True):
        problems.extend(lines.problem(app, key, message) for key, message in app_problems)
        if app_problems:
            failed.add(app.name)
    for cluster, message in cluster_problems.items():
        app, index = clusters[cluster]
        where: _KeyPath = ("pipeline", index, "cluster")
        problems.append(lines.problem(app, where, message, env=app.environments[index].name))
        failed.update(a.name for a in config.apps if cluster in {e.cluster for e in a.environments})
    named = {e.cluster for a in config.apps for e in a.environments}
    return ProbeResult(
        problems=tuple(sorted(problems, key=lambda p: (p.file, p.line))),
        failed=frozenset(failed),
        clusters=tuple(sorted(clusters)),
        emulated=tuple(sorted(named - set(clusters))),
    )


# --- Git: repository, branch, path, rendering --------------------------------------------


def _probe_source(app: AppSpec, scratch: Path, timeout_s: float) -> list[tuple[_KeyPath, str]]:
    """The problems of one app's source, each with the key to fix. Blocking."""
    try:
        # a key held in a variable is written where the check's scratch copy is removed
        auth = resolve_auth(app.credentials, app=app.name, key_dir=scratch / "keys")
    except CredentialsError as exc:
        return [(("credentials",), f"{exc}; set it, or fix `credentials:`")]
    mirror = Mirror(
        directory=scratch / f"{app.name}.git",
        url=app.repo,
        branch=app.branch,
        auth=auth,
        network_timeout_s=timeout_s,
    )
    try:
        try:
            branches = mirror.remote_branches()
        except GitSourceError as exc:
            return [(("repo",), _no_answer(app, exc))]
        if app.branch not in branches:
            return [(("branch",), _no_branch(app, branches))]
        try:
            head = mirror.fetch(depth=1)
        except GitSourceError as exc:
            return [(("repo",), _no_answer(app, exc))]
        files = mirror.read_tree(head, app.path) if head else {}
    finally:
        mirror.close()
    if not files:
        return [
            (
                ("path",),
                f'path "{app.path}" does not exist on branch {app.branch} of {app.repo}; '
                "fix `path:` or push the manifests there",
            )
        ]
    return _render_problems(app, files)


def _render_problems(app: AppSpec, files: dict[str, bytes]) -> list[tuple[_KeyPath, str]]:
    """One problem per distinct rendering failure, naming the environments it hits."""
    failures: dict[str, list[str]] = {}
    for env in app.environments:
        try:
            render_manifests(files, environment=env.name, namespace=env.namespace, prefix=app.path)
        except RenderError as exc:
            failures.setdefault(" ".join(str(exc).split()), []).append(env.name)
    return [
        (
            ("path",),
            f"the manifests at {app.branch}:{app.path} do not render for "
            f"{', '.join(envs)}: {reason}; fix them and push",
        )
        for reason, envs in failures.items()
    ]


def _no_answer(app: AppSpec, exc: GitSourceError) -> str:
    return (
        # git's first line says it; the rest is its generic advice
        f"repository {app.repo} does not answer ({str(exc).splitlines()[0].strip()}); "
        "check the URL, the network and `credentials:`"
    )


def _no_branch(app: AppSpec, branches: Sequence[str]) -> str:
    near = difflib.get_close_matches(app.branch, branches, n=1)
    hint = f' (did you mean "{near[0]}"?)' if near else ""
    return (
        f'branch "{app.branch}" does not exist in {app.repo}{hint}; branches: {_listed(branches)}'
    )


# --- clusters: context, answer --------------------------------------------------------------


def _clusters_to_ask(apps: Sequence[AppSpec], *, emulate: bool) -> dict[str, tuple[AppSpec, int]]:
    """Each cluster to ask, with the first environment that names it (where to point)."""
    out: dict[str, tuple[AppSpec, int]] = {}
    for app in apps:
        for index, env in enumerate(app.environments):
            if emulate and env.cluster.startswith(KUBESIM_PREFIX):
                continue
            out.setdefault(env.cluster, (app, index))
    return out


async def _probe_clusters(
    clusters: dict[str, tuple[AppSpec, int]], *, kubeconfig: str | None, timeout_s: float
) -> dict[str, str]:
    """The problem of each cluster that has one."""
    if not clusters:
        return {}
    where = kubeconfig or "the kubeconfig (KUBECONFIG or ~/.kube/config)"
    try:
        contexts = await asyncio.to_thread(kubeconfig_contexts, kubeconfig)
    except KubeconfigError as exc:
        message = f"cannot read {where}: {exc}; give baton's kubeconfig with --kubeconfig"
        return dict.fromkeys(clusters, message)
    names = Clusters(kubeconfig=kubeconfig)

    async def one(cluster: str) -> str | None:
        context = names.context_of(cluster) or ""
        if context not in contexts:
            return (
                f'context "{context}" is not in {where}; contexts: {_listed(contexts)}; '
                "fix `cluster:` or add the context"
            )
        try:
            await ping(name=cluster, kubeconfig=kubeconfig, context=context, timeout_s=timeout_s)
        except KubeconfigError as exc:
            return f'context "{context}" of {where} cannot be used: {exc}; fix the kubeconfig'
        except NoAnswer as exc:
            return (
                f'the API server of context "{context}" does not answer ({exc}); '
                "check that the cluster runs and the kubeconfig's server address"
            )
        return None

    answers = await asyncio.gather(*(one(c) for c in clusters))
    return {c: a for c, a in zip(clusters, answers, strict=True) if a is not None}


# --- where each key is ----------------------------------------------------------------------


class _Lines:
    """The line of an app's key in its file: the file is read again with the loader's
    line map (the loaded config keeps only the file's name)."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[Any, LineMap]] = {}

    def problem(
        self, app: AppSpec, key: _KeyPath, message: str, *, env: str | None = None
    ) -> ConfigProblem:
        """``file:line: app NAME[, environment ENV]: message`` at ``key`` of ``app``."""
        who = f"app {app.name}" + (f", environment {env}" if env else "")
        return ConfigProblem(app.source_file, self._line(app, key), who, message)

    def _line(self, app: AppSpec, key: _KeyPath) -> int:
        if app.source_file not in self._files:
            try:
                text = Path(app.source_file).read_text(encoding="utf-8")
                self._files[app.source_file] = load_with_lines(text)
            except (OSError, UnicodeDecodeError, YamlSyntaxError):  # changed since loading
                self._files[app.source_file] = (None, LineMap())
        data, lines = self._files[app.source_file]
        listed = data.get("apps") if isinstance(data, dict) else None
        for index, entry in enumerate(listed or []):
            if isinstance(entry, dict) and entry.get("name") == app.name:
                return lines.line_of(("apps", index, *key))
        return 0


def _listed(names: Sequence[str]) -> str:
    if not names:
        return "none"
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")
