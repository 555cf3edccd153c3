"""A minimal HTTP/1.1 keep-alive GET client for the load run, one connection per simulated analyst.

httpx spends ~2.5 ms of CPU per request (measured on /api/health); on a 2-core machine that CPU is taken from
the server under test. This client reads the status line, the headers and a Content-Length or chunked body,
nothing more (~0.2 ms). It measures the same thing: a full request and response over a loopback socket.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode


class RawClient:
    def __init__(self, host: str, port: int, headers: dict[str, str], timeout: float = 120.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._head = f"Host: {host}:{port}\r\nAccept: application/json\r\n{extra}\r\n"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, params: dict[str, Any] | None = None) -> tuple[int, bytes]:
        """(status, body); a broken connection is dropped and the error raised (the next call reconnects)."""
        target = path + ("?" + urlencode(params, doseq=True) if params else "")
        try:
            return await asyncio.wait_for(self._exchange(target), self.timeout)
        except BaseException:
            await self.close()
            raise

    async def _exchange(self, target: str) -> tuple[int, bytes]:
        reused = self._writer is not None
        status_line = await self._send(target)
        if (
            not status_line and reused
        ):  # the server closed an idle keep-alive connection: as browsers do, retry
            await self.close()
            status_line = await self._send(target)
        assert self._reader is not None
        status = int(status_line.split()[1])
        length, chunked, close = None, False, False
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            key = name.strip().lower()
            if key == "content-length":
                length = int(value)
            chunked |= key == "transfer-encoding" and "chunked" in value.lower()
            close |= key == "connection" and value.strip().lower() == "close"
        body = await (self._chunks() if chunked else self._reader.readexactly(length or 0))
        if close:
            await self.close()
        return status, body

    async def _send(self, target: str) -> bytes:
        """Send the request (connecting if needed); the status line, or b"" if the connection was closed."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(f"GET {target} HTTP/1.1\r\n{self._head}".encode())
        try:
            return await self._reader.readline()
        except ConnectionError:
            return b""

    async def _chunks(self) -> bytes:
        assert self._reader is not None
        parts = []
        while size := int((await self._reader.readline()).split(b";")[0], 16):
            parts.append(await self._reader.readexactly(size))
            await self._reader.readline()
        await self._reader.readline()
        return b"".join(parts)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._reader = self._writer = None
