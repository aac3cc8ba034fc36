"""A bare mirror of one app's tracked branch, and the questions the watcher asks it.

Where it sits: the watcher (``engine.git.watcher``) owns one :class:`Mirror` per app,
under ``BATON_HOME/repos/<app>.git``, and calls it from an executor thread (GitPython is
blocking). Each poll: :meth:`remote_head` (one cheap ``ls-remote``), :meth:`fetch` only
when that moved, then :meth:`commits_since` and :meth:`keep` for every release so a later
force-push or ``git gc`` never loses a released commit. Files at a sha come from the
object database (:meth:`read_tree`), never from a working tree a fetch could move.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import git

from engine.git.credentials import GitAuth

NETWORK_TIMEOUT_S = 60.0
_RS, _FS = "\x1e", "\x1f"
_LOG_FORMAT = _RS + _FS.join(["%H", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%B"]) + _FS
KEEP_PREFIX = "refs/baton/releases/"


class GitSourceError(Exception):
    """A git operation failed; the message is safe to show (secrets redacted)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommitInfo:
    """One commit of the tracked branch, with its files changed against its first parent."""

    sha: str
    parents: tuple[str, ...]
    author: str
    author_email: str
    authored_at: datetime
    committer: str
    committer_email: str
    committed_at: datetime
    message: str
    changed_files: tuple[str, ...]

    def touches(self, path: str) -> bool:
        """True when one of the changed files lies under ``path`` (``.`` is everything)."""
        return bool(files_under(self.changed_files, path))


def files_under(files: tuple[str, ...], path: str) -> tuple[str, ...]:
    """The files of ``files`` inside the folder ``path``."""
    if path in ("", "."):
        return files
    prefix = path.rstrip("/") + "/"
    return tuple(f for f in files if f.startswith(prefix))


class Mirror:
    """Bare clone of one branch of one remote, kept in ``directory``."""

    def __init__(
        self,
        *,
        directory: Path,
        url: str,
        branch: str,
        auth: GitAuth,
        network_timeout_s: float = NETWORK_TIMEOUT_S,
    ) -> None:
        self.directory = directory
        self.url = url
        self.branch = branch
        self.auth = auth
        self.network_timeout_s = network_timeout_s
        self._repo: git.Repo | None = None

    @property
    def tracking_ref(self) -> str:
        """Where the fetched head of the branch is kept locally."""
        return f"refs/remotes/origin/{self.branch}"

    def open(self) -> git.Repo:
        """The bare repository, created (with ``origin`` set to the url) on first use."""
        if self._repo is not None:
            return self._repo
        try:
            if (self.directory / "HEAD").exists():
                repo = git.Repo(self.directory)
            else:
                self.directory.parent.mkdir(parents=True, exist_ok=True)
                repo = git.Repo.init(self.directory, bare=True)
            settings = (
                ('remote "origin"', "url", self.url),
                ("gc", "auto", "0"),  # a poll must not stall on a gc
                ("core", "quotePath", "false"),  # file names as they are
            )
            # write only what differs: readers (the appliers render from the mirror
            # while the watcher fetches) must not rewrite, and lock, the config
            reader = repo.config_reader()
            if any(str(reader.get_value(s, k, "")).lower() != v.lower() for s, k, v in settings):
                with repo.config_writer() as cfg:
                    for section, key, value in settings:
                        cfg.set_value(section, key, value)
        except (git.GitError, OSError, ValueError) as exc:
            raise GitSourceError(self.auth.redact(f"cannot open mirror: {exc}")) from None
        self._repo = repo
        return repo

    def remote_head(self) -> str | None:
        """The branch's head on the remote (None if the branch does not exist there)."""
        out = self._run("ls_remote", "origin", f"refs/heads/{self.branch}", network=True)
        line = out.split("\n", 1)[0].strip()
        return line.split()[0] if line else None

    def remote_branches(self) -> list[str]:
        """Every branch the remote has, sorted (one ``ls-remote --heads``)."""
        out = self._run("ls_remote", "--heads", "origin", network=True)
        return sorted(
            line.split("\trefs/heads/", 1)[1]
            for line in out.splitlines()
            if "\trefs/heads/" in line
        )

    def local_head(self) -> str | None:
        """The head fetched last time (None before the first fetch)."""
        try:
            return str(self.open().git.rev_parse("--verify", "-q", self.tracking_ref))
        except git.GitCommandError:
            return None

    def fetch(self, *, depth: int | None = None) -> str | None:
        """Fetch the tracked branch (forced: a rewrite is detected by the caller); only
        the last ``depth`` commits when given (a look at the head, not a mirror)."""
        refspec = f"+refs/heads/{self.branch}:{self.tracking_ref}"
        shallow = [f"--depth={depth}"] if depth is not None else []
        self._run("fetch", "--no-tags", "--quiet", *shallow, "origin", refspec, network=True)
        return self.local_head()

    def has_commit(self, sha: str) -> bool:
        """True when the object database holds commit ``sha``."""
        try:
            self.open().git.cat_file("-e", f"{sha}^{{commit}}")
        except git.GitCommandError:
            return False
        return True

    def is_ancestor(self, old: str, new: str) -> bool:
        """True when ``old`` is reachable from ``new`` (a fast-forward, not a rewrite)."""
        try:
            self.open().git.merge_base("--is-ancestor", old, new)
        except git.GitCommandError as exc:
            if exc.status == 1:
                return False
            raise GitSourceError(self.auth.redact(str(exc))) from None
        return True

    def commits_since(self, since: str | None, head: str) -> list[CommitInfo]:
        """First-parent commits from after ``since`` up to ``head``, oldest first.

        The tracked branch's own history is its first-parent chain: a merge brings the
        merged work in as one commit (diffed against its first parent), so intermediate
        commits of a feature branch never become releases on their own.
        """
        span = [head] if since is None else [head, "--not", since]
        out = self._run(
            "log",
            "--first-parent",
            "--diff-merges=first-parent",
            "--name-only",
            "--no-renames",
            f"--format={_LOG_FORMAT}",
            *span,
        )
        commits = [_parse(chunk) for chunk in out.split(_RS) if chunk.strip()]
        commits.reverse()
        return commits

    def latest_touching(self, head: str, path: str) -> CommitInfo | None:
        """The newest first-parent commit up to ``head`` that changed ``path``."""
        for commit in reversed(self.commits_since(None, head)):
            if commit.touches(path):
                return commit
        return None

    def tree_id(self, sha: str, path: str) -> str | None:
        """Git's content hash of ``path`` at ``sha`` (None when the path is missing)."""
        spec = f"{sha}^{{tree}}" if path in ("", ".") else f"{sha}:{path}"
        try:
            return str(self.open().git.rev_parse("--verify", "-q", spec))
        except git.GitCommandError:
            return None

    def read_tree(self, sha: str, path: str) -> dict[str, bytes]:
        """Every file under ``path`` at ``sha``, keyed by its path relative to ``path``."""
        try:
            tree = self.open().commit(sha).tree
            if path not in ("", "."):
                tree = tree / path
        except (KeyError, ValueError, git.GitError):
            return {}
        if not isinstance(tree, git.Tree):
            return {}
        files: dict[str, bytes] = {}
        for item in tree.traverse():
            if isinstance(item, git.Blob):
                full, base = str(item.path), str(tree.path)
                files[full[len(base) + 1 :] if base else full] = item.data_stream.read()
        return files

    def keep(self, *shas: str) -> None:
        """Pin commits with local refs so a force-push plus gc can never drop them."""
        repo = self.open()
        try:
            for sha in shas:
                git.Reference.create(repo, f"{KEEP_PREFIX}{sha}", sha, force=True)
        except (git.GitError, OSError, ValueError) as exc:
            raise GitSourceError(self.auth.redact(f"cannot pin a release commit: {exc}")) from None

    def close(self) -> None:
        """Stop the persistent git processes GitPython keeps for this repository."""
        if self._repo is not None:
            self._repo.close()
            self._repo = None

    def _run(self, command: str, *args: str, network: bool = False) -> str:
        """Run one git command with the app's auth environment; errors come out redacted."""
        repo = self.open()
        try:
            out: str = getattr(repo.git, command)(
                *args,
                env=self.auth.env,
                kill_after_timeout=self.network_timeout_s if network else None,
            )
        except git.GitCommandError as exc:
            detail = (exc.stderr or "").strip().removeprefix("stderr:").strip(" '\n")
            if network and detail.startswith("Timeout:"):
                detail = f"no answer within {self.network_timeout_s:g}s"
            reason = detail or f"exit status {exc.status}"
            shown = command.replace("_", "-")  # ls_remote is `git ls-remote` to a reader
            raise GitSourceError(self.auth.redact(f"git {shown}: {reason}")) from None
        return out


def _parse(chunk: str) -> CommitInfo:
    """One ``_LOG_FORMAT`` record plus the ``--name-only`` file list after it."""
    sha, parents, an, ae, at, cn, ce, ct, message, names = chunk.split(_FS, 9)
    return CommitInfo(
        sha=sha,
        parents=tuple(parents.split()),
        author=an,
        author_email=ae,
        authored_at=datetime.fromisoformat(at),
        committer=cn,
        committer_email=ce,
        committed_at=datetime.fromisoformat(ct),
        message=message.strip(),
        changed_files=tuple(n for n in names.split("\n") if n.strip()),
    )
