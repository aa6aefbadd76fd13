"""The http types' client (urllib3 and our deadline) against a server that answers with
scripted bytes.

The real client (``perform_request``) talks to a real TCP server on 127.0.0.1 whose answers
are written out byte for byte, so each framing case of the protocol is met as a server
would send it: chunks, a body ended by the close, interim answers, HEAD, a server that
closes a kept-alive connection as the next request comes.
"""

import socket
import threading
import time
from collections.abc import Callable

import pytest

from app.config import Settings
from app.httpclient import Request, RequestFailed, perform_request
from app.jobtypes.base import RunContext
from tests.support import run_and_wait

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class ScriptedServer:
    """Answers the n-th request of each connection with ``answer(request, n)``: bytes to
    send (then keep the connection), or ``(bytes, "close")`` to send and close."""

    def __init__(self, answer: Callable[[bytes, int], bytes | tuple[bytes, str]]) -> None:
        self.answer = answer
        self.requests: list[tuple[int, bytes]] = []  # (connection number, request)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn, self.connections), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        try:
            with conn:
                self._answer_all(conn, number)
        except OSError:  # the client gave up on the connection
            pass

    def _answer_all(self, conn: socket.socket, number: int) -> None:
        buffer, served = b"", 0
        while True:
            while b"\r\n\r\n" not in buffer:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(buffer) < length:
                buffer += conn.recv(65536)
            request, buffer = head + b"\r\n\r\n" + buffer[:length], buffer[length:]
            self.requests.append((number, request))
            reply = self.answer(request, served)
            served += 1
            data, close = reply if isinstance(reply, tuple) else (reply, "")
            conn.sendall(data)
            if close:
                return

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def scripted():
    servers: list[ScriptedServer] = []

    def start(answer) -> ScriptedServer:
        servers.append(ScriptedServer(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _context(seconds: float = 5.0) -> RunContext:
    return RunContext(
        job_id="protocol",
        execution_id=1,
        job_type="http",
        configuration={},
        deadline=time.monotonic() + seconds,
        settings=Settings(),
    )


def _get(url: str, **kwargs) -> tuple[int, str]:
    answer = perform_request(_context(), Request(url=url, **kwargs))
    return answer.status, answer.body.text()


def test_a_chunked_body_is_read_whole_and_the_connection_kept(scripted):
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    server = scripted(lambda request, n: chunked)
    assert _get(server.url("/chunks")) == (200, "hello world")
    assert _get(server.url("/chunks")) == (200, "hello world")
    assert [number for number, _ in server.requests] == [1, 1]


def test_a_body_without_length_ends_when_the_server_closes(scripted):
    server = scripted(lambda request, n: (b"HTTP/1.1 200 OK\r\n\r\nall of it", "close"))
    assert _get(server.url("/eof")) == (200, "all of it")
    assert _get(server.url("/eof")) == (200, "all of it")
    assert server.connections == 2


def test_an_http_1_0_answer_does_not_keep_the_connection(scripted):
    server = scripted(lambda request, n: b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert _get(server.url("/old")) == (200, "ok")
    assert _get(server.url("/old")) == (200, "ok")
    assert server.connections == 2


def test_an_interim_answer_is_passed_over(scripted):
    server = scripted(
        lambda request, n: (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 7\r\n\r\ncreated"
        )
    )
    assert _get(server.url("/interim"), method="POST", body=b"{}") == (201, "created")


def test_a_head_answer_has_no_body_whatever_its_length_says(scripted):
    server = scripted(lambda request, n: b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    assert _get(server.url("/head"), method="HEAD") == (200, "")
    assert _get(server.url("/head"), method="HEAD") == (200, "")
    assert [number for number, _ in server.requests] == [1, 1]


@pytest.mark.parametrize("status", [204, 304])
def test_answers_that_never_have_a_body(scripted, status):
    server = scripted(lambda request, n: f"HTTP/1.1 {status} X\r\n\r\n".encode())
    assert _get(server.url("/none")) == (status, "")
    assert _get(server.url("/none")) == (status, "")
    assert server.connections == 1


def test_a_body_cut_short_fails_with_what_came(scripted):
    server = scripted(
        lambda request, n: (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "close")
    )
    with pytest.raises(RequestFailed, match="Connection broken: IncompleteRead") as exc:
        _get(server.url("/short"))
    assert exc.value.tail.text() == "abc"


def test_an_answer_that_is_not_http_fails_clearly(scripted):
    server = scripted(lambda request, n: (b"SSH-2.0-OpenSSH\r\n\r\n", "close"))
    with pytest.raises(RequestFailed, match="BadStatusLine"):
        _get(server.url("/garbage"))


def test_endless_headers_are_given_up(scripted):
    endless = b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 300_000  # and no end (the server waits)
    server = scripted(lambda request, n: endless)
    with pytest.raises(RequestFailed, match="LineTooLong"):
        _get(server.url("/pad"))


def test_a_switch_of_protocol_is_the_answer(scripted):
    server = scripted(lambda request, n: b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n")
    assert _get(server.url("/upgrade"))[0] == 101
    assert _get(server.url("/upgrade"))[0] == 101


def test_a_kept_connection_closed_as_the_request_comes_is_replaced_once(scripted):
    """The server closes the idle connection just as the next request reaches it (after
    the pool's check): the request is sent again on a new connection."""
    server = scripted(lambda request, n: OK if n == 0 else (b"", "close"))
    assert _get(server.url("/idle")) == (200, "ok")
    assert _get(server.url("/idle")) == (200, "ok")
    assert [number for number, _ in server.requests] == [1, 1, 2]


def test_a_connection_closed_without_an_answer_fails_after_one_more_try(scripted):
    server = scripted(lambda request, n: (b"", "close"))
    with pytest.raises(RequestFailed, match="Remote end closed connection without response"):
        _get(server.url("/mute"))
    assert server.connections == 2


def test_a_post_is_never_sent_twice(scripted):
    server = scripted(lambda request, n: (b"", "close"))
    with pytest.raises(RequestFailed, match="Remote end closed connection without response"):
        _get(server.url("/mute"), method="POST", body=b"{}")
    assert server.connections == 1


def test_a_timeout_is_not_tried_again(scripted):
    server = scripted(lambda request, n: (time.sleep(2), OK)[1])
    started = time.monotonic()
    with pytest.raises(RequestFailed, match="timed out"):
        perform_request(_context(0.5), Request(url=server.url("/slow")))
    assert time.monotonic() - started < 1.5
    assert server.connections == 1


def test_the_request_says_what_the_job_asked(scripted):
    server = scripted(lambda request, n: OK)
    _get(server.url("/a path/é?q=1"), method="POST", headers={"X-Trace": "café"})
    _get(f"http://localhost:{server.port}/x", headers={"Host": "example.test"})
    first, second = (request for _, request in server.requests)
    head, _, body = first.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /a%20path/%C3%A9?q=1 HTTP/1.1"
    assert set(lines[1:]) == {
        f"Host: 127.0.0.1:{server.port}".encode(),
        b"Accept-Encoding: identity",
        b"X-Trace: caf\xe9",  # latin-1, as http.client sent it
        b"Content-Length: 0",
        b"User-Agent: cronwell/0.1.0",
    }
    assert body == b""
    assert b"Host: example.test" in second.split(b"\r\n")


def test_a_header_that_would_break_the_request_is_refused_before_sending(scripted):
    server = scripted(lambda request, n: OK)
    with pytest.raises(RequestFailed, match="Invalid header value"):
        _get(server.url("/"), headers={"X-A": "a\r\nX-Injected: 1"})
    assert server.connections == 0


def test_a_run_keeps_the_body_that_came_before_a_failure(service, make_job, scripted):
    server = scripted(
        lambda request, n: (b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\npartial", "close")
    )
    job = make_job(configuration={"url": server.url("/partial")})
    row = run_and_wait(service, job["id"])
    assert row["status"] == "failed" and row["output"] == "partial", row
    assert row["error"].startswith("HTTP request failed: Connection broken: IncompleteRead"), row


@pytest.mark.parametrize(
    ("configuration", "field", "reason"),
    [
        ({"headers": {"Content-Length": "5"}}, "headers", "is set from the body"),
        ({"headers": {"transfer-encoding": "chunked"}}, "headers", "is set from the body"),
        ({"headers": {"X-A": "a\r\nX-B: b"}}, "headers", "line break"),
        ({"headers": {"Bad Name": "x"}}, "headers", "not a valid HTTP token"),
        ({"url": "http://127.0.0.1:99999/"}, "url", "Bad port"),
    ],
)
def test_what_cannot_be_sent_is_refused_at_create(service, configuration, field, reason):
    configuration = {"url": "http://127.0.0.1:9/", **configuration}
    job = {"name": "unsendable", "type": "http", "schedule": "1h", "configuration": configuration}
    response = service.post("/api/jobs", json=job)
    assert response.status_code == 422, response.text
    assert reason in str(response.json()["errors"][f"configuration.{field}"]), response.text
