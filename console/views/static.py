"""`/static/{name}`: the console's stylesheet and script, from memory, cached by version.

The files are read once, when the console is mounted; a page names each with a hash of its
content (`?v=`), so a browser may keep it a year and still never runs an old script.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from console.pages import View, page

_YEAR = 365 * 86_400


@dataclass(frozen=True)
class _File:
    body: bytes
    content_type: str
    version: str


class StaticFiles:
    """The files of one folder, by name."""

    def __init__(self, folder: Path) -> None:
        self._files: dict[str, _File] = {}
        for path in sorted(folder.iterdir()):
            if path.is_file():
                body = path.read_bytes()
                kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                version = hashlib.sha256(body).hexdigest()[:12]
                self._files[path.name] = _File(body, kind, version)

    def url(self, name: str) -> str:
        """The versioned URL of the file `name` (KeyError for a file that is not there)."""
        return f"/static/{name}?v={self._files[name].version}"

    def view(self) -> View:
        """The view that serves these files."""

        @page(session=False)
        async def serve(request: web.Request) -> web.StreamResponse:
            found = self._files.get(request.match_info["name"])
            if found is None:
                raise web.HTTPNotFound()
            etag = f'"{found.version}"'
            headers = {"ETag": etag, "Cache-Control": f"public, max-age={_YEAR}, immutable"}
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers=headers)
            charset = "utf-8" if found.content_type.startswith("text/") else None
            return web.Response(
                body=found.body, content_type=found.content_type, charset=charset, headers=headers
            )

        return serve
