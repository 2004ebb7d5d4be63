"""One async byte-stream abstraction over serial ports, TCP client, TCP server and files.

``open_stream(url)`` understands::

    serial:///dev/ttyUSB0:115200     pyserial, 8N1 (reads in a worker thread)
    tcp://host:port                  TCP client
    tcpsvr://:port  or tcpsvr://host:port   TCP server: writes go to every connected peer,
                                     reads come from any of them
    file:///path or file://path      reads the file (EOF ends the stream); writes append

Every stream has ``await read(n) -> bytes`` (b"" at end of stream), ``await write(data)``,
and ``await close()``; they are async context managers.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit


class StreamError(ValueError):
    """A stream URL that cannot be understood or opened."""


class ByteStream:
    async def read(self, n: int = 65536) -> bytes:
        raise NotImplementedError

    async def write(self, data: bytes) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        pass

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()


class TcpClientStream(ByteStream):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, host: str, port: int, timeout_s: float = 10.0) -> "TcpClientStream":
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
        return cls(r, w)

    async def read(self, n: int = 65536) -> bytes:
        return await self.reader.read(n)

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


class TcpServerStream(ByteStream):
    """Listens on a port; a write is sent to every connected peer (a peer too slow to keep up
    with ``max_backlog`` unsent bytes is disconnected), reads return bytes from any peer."""

    def __init__(self, max_backlog: int = 1 << 20, queue_chunks: int = 1024) -> None:
        self.peers: set[asyncio.StreamWriter] = set()
        self.incoming: asyncio.Queue[bytes] = asyncio.Queue(queue_chunks)
        self.max_backlog = max_backlog
        self.server: asyncio.base_events.Server | None = None
        self.port: int | None = None
        self._tasks: set[asyncio.Task] = set()

    @classmethod
    async def listen(cls, host: str, port: int) -> "TcpServerStream":
        s = cls()
        s.server = await asyncio.start_server(s._peer, host or "0.0.0.0", port)
        s.port = s.server.sockets[0].getsockname()[1]
        return s

    async def _peer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.peers.add(writer)
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            while data := await reader.read(4096):
                if self.incoming.full():
                    self.incoming.get_nowait()  # keep the newest bytes, bounded
                self.incoming.put_nowait(data)
        except (ConnectionError, OSError):
            pass
        finally:
            self.peers.discard(writer)
            self._tasks.discard(task)
            writer.close()

    async def read(self, n: int = 65536) -> bytes:
        return await self.incoming.get()

    async def write(self, data: bytes) -> None:
        for w in list(self.peers):
            if w.transport.get_write_buffer_size() > self.max_backlog:
                self.peers.discard(w)
                w.transport.abort()
            else:
                w.write(data)

    async def close(self) -> None:
        if self.server:
            self.server.close()
        for w in list(self.peers):
            w.transport.abort()
        for t in list(self._tasks):
            t.cancel()
        if self.server:
            await self.server.wait_closed()


class FileStream(ByteStream):
    """A file read to its end (``read`` then returns b""), or appended to."""

    def __init__(self, path: str | Path, mode: str = "rb") -> None:
        self.fh = open(path, mode)

    async def read(self, n: int = 65536) -> bytes:
        return self.fh.read(n)

    async def write(self, data: bytes) -> None:
        self.fh.write(data)
        self.fh.flush()

    async def close(self) -> None:
        self.fh.close()


class SerialStream(ByteStream):
    """A serial port through pyserial; blocking calls run in worker threads."""

    def __init__(self, port: str, baud: int = 115200) -> None:
        import serial  # pyserial

        self.ser = serial.Serial(port, baud, timeout=0.2)

    async def read(self, n: int = 65536) -> bytes:
        while True:
            data = await asyncio.to_thread(self.ser.read, max(1, min(n, self.ser.in_waiting or 1)))
            if data or not self.ser.is_open:
                return data

    async def write(self, data: bytes) -> None:
        await asyncio.to_thread(self.ser.write, data)

    async def close(self) -> None:
        self.ser.close()


def _host_port(netloc: str, default_port: int | None = None) -> tuple[str, int]:
    host, _, port = netloc.rpartition(":")
    if not _:
        if default_port is None:
            raise StreamError(f"missing port in {netloc!r}")
        return netloc, default_port
    return host.strip("[]"), int(port)


async def open_stream(url: str, write: bool = False) -> ByteStream:
    """Open a stream from its URL (see module docstring). ``write`` opens files for appending."""
    if "://" not in url:
        raise StreamError(f"stream URL needs a scheme (serial://, tcp://, tcpsvr://, file://): {url!r}")
    scheme, rest = url.split("://", 1)
    if scheme == "file":
        return FileStream(rest, "ab" if write else "rb")
    if scheme == "serial":
        dev, _, baud = rest.rpartition(":")
        if not _ or not baud.isdigit():
            dev, baud = rest, "115200"
        return SerialStream(dev, int(baud))
    parts = urlsplit(url)
    if scheme == "tcp":
        host, port = _host_port(parts.netloc)
        return await TcpClientStream.connect(host, port)
    if scheme == "tcpsvr":
        host, port = _host_port(parts.netloc)
        return await TcpServerStream.listen(host, port)
    raise StreamError(f"unknown stream scheme {scheme!r}")
