"""The local recorder: an HTTP server on 127.0.0.1 that notes when each request arrives."""

import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _QuietServer(ThreadingHTTPServer):
    """Connections dropped by a server under test as it stops are not errors here."""

    def handle_error(self, request, client_address) -> None:
        pass


class Recorder:
    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else ~40 ms delayed-ACK stalls per response

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                arrived = time.time()
                key = self.path.split("?")[0].rsplit("/", 1)[-1]
                with recorder._lock:
                    recorder.arrivals[key].append(arrived)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_POST = do_GET

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 1024
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        with self._lock:
            self.arrivals.clear()

    def snapshot(self) -> dict[str, list[float]]:
        with self._lock:
            return {k: list(v) for k, v in self.arrivals.items()}

    def total(self) -> int:
        with self._lock:
            return sum(len(v) for v in self.arrivals.values())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
