"""The gunicorn worker Cronwell is served by: gthread, serving a kept-alive connection on.

gunicorn's gthread worker hands each request of a kept-alive connection from its poller
thread to a pool thread, and the connection back to the poller after the answer: two
thread hand-offs and two epoll changes a request. A client that sends its next request
at once (a script making calls one after another) waits for them every time: about
0.1 ms a request on loopback, more while the scheduler's threads want the GIL.

:class:`KeepAliveWorker` serves a connection's next request in the same pool thread when
it comes within :data:`LINGER_SECONDS` of the answer, and hands the connection back to
the poller otherwise, as gthread does. It does not wait while another connection is
waiting for a thread, so a full pool never lingers while requests queue.
"""

from __future__ import annotations

import select

from gunicorn.workers.gthread import TConn, ThreadWorker

#: How long a pool thread waits for a kept-alive connection's next request.
LINGER_SECONDS = 0.005


class KeepAliveWorker(ThreadWorker):
    """gthread (gunicorn's threaded worker) that serves back-to-back requests in one go."""

    def handle(self, conn: TConn):  # -> True (keep alive), False or gthread's _DEFER
        keepalive = super().handle(conn)
        while keepalive is True and self.alive and not conn.is_http2:
            # Bytes of the next request may already be read (a pipelining client).
            if not conn.parser.unreader.buf.getvalue() and not self._next_request_soon(conn):
                break
            keepalive = super().handle(conn)
        return keepalive

    def _next_request_soon(self, conn: TConn) -> bool:
        """Whether the connection becomes readable within the linger (a closed one does,
        and the next handle() ends it)."""
        if self.tpool._work_queue.qsize():  # other connections wait for a thread
            return False
        try:
            readable, _, _ = select.select([conn.sock], [], [], LINGER_SECONDS)
        except (OSError, ValueError):
            return False
        return bool(readable)
