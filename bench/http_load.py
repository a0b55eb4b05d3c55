"""A minimal HTTP/1.1 keep-alive GET client for read-load: N connections, each one request at a
time. Far cheaper per request than a general client, so the server, not the client, is measured
(the load generator shares the machine's two cores with the service under test)."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

from bench.load import percentile


class ReadError(RuntimeError):
    pass


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ReadError("connection closed")
    status = int(status_line.split()[1])
    length = None
    chunked = False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if length is not None:
        await reader.readexactly(length)
    elif chunked:
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        raise ReadError("response without a length")
    return status


async def readers(url: str, n: int, seconds: float) -> tuple[float, float, float, int]:
    """``n`` keep-alive connections GETting ``url`` for ``seconds``: (req/s, p50, p99, errors)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: */*\r\n\r\n".encode()
    lat: list[float] = []
    errors = 0
    stop_at = time.monotonic() + seconds

    async def one() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.monotonic() < stop_at:
                t0 = time.perf_counter()
                if await _get(reader, writer, request) != 200:
                    errors += 1
                    continue
                lat.append((time.perf_counter() - t0) * 1000)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    elapsed = time.perf_counter() - started
    return len(lat) / elapsed, percentile(lat, 50), percentile(lat, 99), errors
