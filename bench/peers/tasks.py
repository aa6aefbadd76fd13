"""The job the peers run: one HTTP GET to the bench's recorder.

It uses the standard library's http.client on a keep-alive connection per thread, the
protocol code Cronwell's http type uses, so the client costs the same on both sides.
"""

import http.client
import threading
from urllib.parse import urlsplit

_local = threading.local()


def hit(url: str) -> None:
    parts = urlsplit(url)
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = _local.connection = http.client.HTTPConnection(
            parts.hostname, parts.port, timeout=10
        )
    try:
        connection.request("GET", parts.path)
        connection.getresponse().read()
    except (OSError, http.client.HTTPException):
        connection.close()  # reconnects on the next call
        raise
