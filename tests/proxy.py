"""A TCP proxy in front of a running baton, to make the network fail as it does for real:
a server that goes away and comes back on the same port (`Gate`), or an answer lost
after the work was done (`tests.demo.test_cli.CutOnce`)."""

from __future__ import annotations

import asyncio


def upstream_of(url: str) -> tuple[str, int]:
    """(host, port) of an `http://host:port/...` URL."""
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    return host, int(port)


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy `reader` into `writer` until either side ends; then close `writer`."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


class Gate:
    """A TCP proxy to the server that can be shut (every connection cut, none accepted) and
    opened again on the same port: a server restart, as a client sees it."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream_of(upstream)
        self.port = 0
        self.writers: set[asyncio.StreamWriter] = set()

    async def open(self) -> str:
        """Accept connections (on the same port as before, once opened); the proxy's URL."""
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{self.port}"

    async def shut(self) -> None:
        """Refuse new connections and cut the open ones."""
        self.server.close()
        for writer in self.writers:
            writer.close()
        self.writers.clear()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self.writers |= {writer, up_writer}
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
