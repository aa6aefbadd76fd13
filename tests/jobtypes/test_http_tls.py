"""The http type over TLS: a real TLS server on 127.0.0.1 with a certificate made for the
test by the openssl command; the service trusts it through SSL_CERT_FILE, as any program
on the standard library's default certificate store would."""

import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support import create_http_job, run_and_wait

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    command = (
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
        " -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,DNS:localhost"
    )
    subprocess.run(
        [*command.split(), "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return key, cert


@pytest.fixture(scope="module")
def tls_server(certificate):
    key, cert = certificate
    ports: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            ports.append(self.client_address[1])
            self.send_response(200)
            self.send_header("Content-Length", "6")
            self.end_headers()
            self.wfile.write(b"secure")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}", ports
    server.shutdown()
    server.server_close()


def test_a_trusted_tls_server_is_called_and_its_connection_kept(
    start_service, certificate, tls_server
):
    _, cert = certificate
    url, ports = tls_server
    service = start_service({"SSL_CERT_FILE": str(cert)})
    create_http_job(service, "tls-one", url=f"{url}/one", schedule="1h")
    create_http_job(service, "tls-two", url=f"{url}/two", schedule="1h")
    first, second = run_and_wait(service, "tls-one"), run_and_wait(service, "tls-two")
    for row in (first, second):
        assert row["status"] == "success" and row["output"] == "secure", row
    assert ports[-1] == ports[-2], "the second run used a new TLS connection"


def test_an_untrusted_certificate_fails_the_run_clearly(service, tls_server):
    url, _ = tls_server
    create_http_job(service, "tls-untrusted", url=f"{url}/untrusted", schedule="1h")
    row = run_and_wait(service, "tls-untrusted")
    assert row["status"] == "failed", row
    assert "CERTIFICATE_VERIFY_FAILED" in row["error"], row


def test_verify_tls_false_calls_a_server_whose_certificate_is_not_trusted(service, tls_server):
    url, _ = tls_server
    response = service.post(
        "/api/jobs",
        json={
            "id": "tls-unverified",
            "name": "tls-unverified",
            "type": "http",
            "schedule": "1h",
            "configuration": {"url": f"{url}/unverified", "verify_tls": False},
        },
    )
    assert response.status_code == 201, response.text
    row = run_and_wait(service, "tls-unverified")
    assert row["status"] == "success" and row["output"] == "secure", row
