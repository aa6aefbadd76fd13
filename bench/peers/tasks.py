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


class Answer:
    """httptools' callbacks for one answer: its body, and whether the connection stays."""

    def __init__(self) -> None:
        self.parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self.status = 0
        self.body = bytearray()
        self.done = self.keep_alive = False

    def on_body(self, data: bytes) -> None:
        self.body += data

    def on_message_complete(self) -> None:
        # Asked here: once the message is complete, the parser is reset for the next one.
        self.status = self.parser.get_status_code()
        self.done, self.keep_alive = True, self.parser.should_keep_alive()


def read_answer(sock: socket.socket) -> Answer:
    """Read one whole answer from ``sock`` (the bench's client reads with it too)."""
    answer = Answer()
    while not answer.done:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        answer.parser.feed_data(data)
    answer.parser = None  # no cycle between the parser and its callbacks' owner
    return answer


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
    keep = False
    try:
        sock.sendall(request.encode())
        keep = read_answer(sock).keep_alive
    finally:
        if not keep:
            sock.close()
            _local.sock = None  # reconnects on the next call
