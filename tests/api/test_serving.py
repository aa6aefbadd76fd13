"""Serving (gunicorn's gthread worker): kept-alive connections served on, in any rhythm."""

import http.client
import re
import socket
import threading
import time

GET = b"GET /api/job-types HTTP/1.1\r\nHost: cronwell\r\n\r\n"


def _connect(service) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    connection.connect()
    return connection


def _get(connection: http.client.HTTPConnection, path: str) -> int:
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    return response.status


def test_back_to_back_requests_are_answered_on_one_connection(service):
    connection = _connect(service)
    sock = connection.sock
    statuses = [_get(connection, "/api/job-types") for _ in range(50)]
    assert statuses == [200] * 50
    assert connection.sock is sock, "the server closed the kept-alive connection"


def test_a_request_after_a_pause_is_answered_on_the_same_connection(service):
    connection = _connect(service)
    sock = connection.sock
    assert _get(connection, "/api/job-types") == 200
    time.sleep(0.05)  # the connection is back with gunicorn's poller
    assert _get(connection, "/api/job-types") == 200
    assert connection.sock is sock


def test_pipelined_requests_are_answered_in_order(service):
    """Three requests in one write: the second and third are read with the first."""
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(GET + b"GET /api/nope HTTP/1.1\r\nHost: cronwell\r\n\r\n" + GET)
        received = b""
        deadline = time.monotonic() + 10
        while received.count(b"HTTP/1.1 ") < 3:
            assert time.monotonic() < deadline, received
            received += sock.recv(65536)
    assert re.findall(rb"HTTP/1.1 (\d{3})", received) == [b"200", b"404", b"200"]


def test_more_kept_alive_clients_than_threads_are_all_served(service):
    """Each client sends its next request at once: with 8 threads, no client starves."""
    clients, calls = 12, 40
    slowest: list[float] = []
    errors: list[BaseException] = []

    def client() -> None:
        try:
            connection = _connect(service)
            for _ in range(calls):
                started = time.monotonic()
                assert _get(connection, "/api/job-types") == 200
                slowest.append(time.monotonic() - started)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors[:3]
    assert len(slowest) == clients * calls
    assert max(slowest) < 5, max(slowest)


def test_a_client_that_closes_after_its_answer_frees_the_thread(service):
    for _ in range(20):  # more than the worker's 8 threads
        with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
            sock.sendall(GET)
            assert sock.recv(100).startswith(b"HTTP/1.1 200")
    connection = _connect(service)
    started = time.monotonic()
    assert _get(connection, "/api/job-types") == 200
    assert time.monotonic() - started < 5
