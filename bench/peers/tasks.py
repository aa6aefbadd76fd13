"""The job the peers run: one HTTP GET to the bench's recorder.

It makes the GET as Cronwell's http type makes it, so the client costs the same on both
sides: a keep-alive socket per thread, blocking, each read and write bounded by the
kernel's SO_RCVTIMEO/SO_SNDTIMEO rather than a Python timeout (which polls before each),
the request written in one send and the answer parsed by httptools. Nothing of Cronwell
is imported here: the peers' processes load only their own code.
"""

import socket
import struct
import threading
from urllib.parse import urlsplit

import httptools

_local = threading.local()
TIMEOUT = struct.pack("@ll", 10, 0)


class _Answer:
    def __init__(self) -> None:
        self.done = False

    def on_message_complete(self) -> None:
        self.done = True


def hit(url: str) -> None:
    parts = urlsplit(url)
    sock = getattr(_local, "sock", None)
    if sock is None:
        sock = socket.create_connection((parts.hostname, parts.port), 10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, TIMEOUT)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, TIMEOUT)
        _local.sock = sock
    request = (
        f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept-Encoding: identity\r\n\r\n"
    )
    try:
        sock.sendall(request.encode())
        answer = _Answer()
        parser = httptools.HttpResponseParser(answer)
        while not answer.done:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("the recorder closed the connection")
            parser.feed_data(data)
    except (OSError, httptools.HttpParserError):
        sock.close()
        _local.sock = None  # reconnects on the next call
        raise
