"""HTTP/1.1 over a raw socket, for what a well-behaved client library will not do: pipeline without
reading, trickle headers, stop half-way through a body. And a process's resident memory."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def connect(url: str, timeout: float = 10.0) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=timeout)


def request_bytes(path: str, body: bytes = b"", headers: dict[str, str] | None = None, method: str = "POST") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: test", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def read_response(sock: socket.socket) -> RawResponse | None:
    """The next response on the connection (content-length framed), or None when the server closed
    it first. Bytes read past one response are kept for the next call."""
    buffer = _buffers.pop(sock.fileno(), b"")
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    if rest[length:]:
        _buffers[sock.fileno()] = rest[length:]
    return RawResponse(int(status_line.split()[1]), headers, rest[:length])


# Bytes read past a response, by socket, for the next read_response.
_buffers: dict[int, bytes] = {}


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closes its side (what it still sends is read and dropped), within the
    socket's timeout."""
    _buffers.pop(sock.fileno(), None)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True
