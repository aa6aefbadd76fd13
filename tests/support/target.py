"""A local HTTP server on 127.0.0.1 that records every request it gets (path, arrival time,
body, headers) and answers by path:

* ``/ok``: 200 with a small body; ``/status/<code>``: that status;
* ``/slow/<seconds>``: waits, then 200; ``/big/<bytes>``: a large body;
* ``/gzip``: a gzip-encoded body; ``/drop``: 200, then closes the connection without
  saying so (as a server whose keep-alive timeout ran out);
* ``/stall/<seconds>``: 200 and the first half of its body, then waits, then the rest;
* ``/redirect?to=<url>``: 302 to that URL;
* ``/down-until/<unix time>/...``: 503 before that time, 200 from then on (a receiver
  that is down for a while).

A request for an absolute URL (``GET http://host/path``, as a client sends to a proxy) is
recorded with that URL as its path and answered 200: the target doubles as a proxy.
"""

from __future__ import annotations

import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Target:
    """A local HTTP server on 127.0.0.1 that records what it receives."""

    def __init__(self) -> None:
        self.hits: list[dict] = []
        self.lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else ~40 ms delayed-ACK stalls per response

            def log_message(self, *args) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with target.lock:
                    target.hits.append(
                        {
                            "path": self.path,
                            "method": self.command,
                            "at": time.time(),
                            "body": body.decode(errors="replace"),
                            "headers": dict(self.headers),
                            "client_port": self.client_address[1],
                        }
                    )
                parts = self.path.split("?")[0].strip("/").split("/")
                status, payload = 200, b"hello from target"
                extra_headers = {}
                stall = 0.0
                try:
                    if parts[0] == "status":
                        status = int(parts[1])
                    elif parts[0] == "slow":
                        time.sleep(float(parts[1]))
                    elif parts[0] == "big":
                        payload = b"x" * int(parts[1])
                    elif parts[0] == "gzip":
                        payload = gzip.compress(b"hello, compressed")
                        extra_headers["Content-Encoding"] = "gzip"
                    elif parts[0] == "drop":
                        self.close_connection = True
                    elif parts[0] == "stall":
                        stall, payload = float(parts[1]), b"first half, second half"
                    elif parts[0] == "down-until":
                        status = 503 if time.time() < float(parts[1]) else 200
                    elif parts[0] == "redirect":
                        status, payload = 302, b""
                        query = parse_qs(urlsplit(self.path).query)
                        extra_headers["Location"] = query["to"][0]
                except (IndexError, KeyError, ValueError):
                    status = 400
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in extra_headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if stall:
                        self.wfile.write(payload[:11])
                        time.sleep(stall)
                        payload = payload[11:]
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits_for(self, marker: str) -> list[dict]:
        with self.lock:
            return [h for h in self.hits if marker in h["path"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
