"""The job the peers run: one HTTP GET to the bench's recorder.

It uses the standard library's http.client on a keep-alive connection per thread, with
the socket set up as Cronwell's http type sets it up (blocking, each read and write
bounded by the kernel's SO_RCVTIMEO/SO_SNDTIMEO rather than a Python timeout, which
polls before each), so the client costs the same on both sides. Nothing of Cronwell is
imported here: the peers' processes load only their own code.
"""

import http.client
import socket
import struct
import threading
from urllib.parse import urlsplit

_local = threading.local()
TIMEOUT = struct.pack("@ll", 10, 0)


def hit(url: str) -> None:
    parts = urlsplit(url)
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = _local.connection = http.client.HTTPConnection(
            parts.hostname, parts.port, timeout=10
        )
    try:
        if connection.sock is None:
            connection.connect()
            connection.sock.settimeout(None)
            connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, TIMEOUT)
            connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, TIMEOUT)
        connection.request("GET", parts.path)
        connection.getresponse().read()
    except (OSError, http.client.HTTPException):
        connection.close()  # reconnects on the next call
        raise
