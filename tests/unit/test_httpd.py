"""The collector's small loopback HTTP server (collector/httpd.py) on a real socket."""

from __future__ import annotations

import http.client
import io
import socket
import threading

import pytest

from collector import httpd
from collector.httpd import BadRequest, HttpServer, Reply, parse_head


@pytest.fixture()
def server():
    seen = []

    def handle(request):
        seen.append(request)
        if request.path == "/boom":
            raise RuntimeError("a bug in a handler")
        length = int(request.headers.get("content-length") or 0)
        body = request.read(length)
        return Reply(200, b"%s %s %s|%s" % (request.method.encode(), request.path.encode(),
                                            request.headers.get("X-Thing").encode(), body),
                     {"Content-Type": "text/plain"})

    srv = HttpServer(handle, port=0, name="test-http")
    srv.start()
    yield srv, seen
    srv.stop()


def raw(srv, data: bytes) -> bytes:
    with socket.create_connection(srv.server_address, timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_request_is_answered_with_its_headers_and_body(server):
    srv, seen = server
    conn = http.client.HTTPConnection(*srv.server_address, timeout=10)
    conn.request("POST", "/x?q=1", body=b'{"a": 1}', headers={"X-Thing": "v"})
    answer = conn.getresponse()
    assert answer.status == 200 and answer.read() == b'POST /x?q=1 v|{"a": 1}'
    assert answer.getheader("Content-Type") == "text/plain"
    assert answer.getheader("Connection") == "close" and answer.getheader("Date", "").endswith(
        " GMT")
    conn.close()
    assert seen[0].client_address[0] == "127.0.0.1"


def test_a_failing_handler_is_a_500_and_the_server_goes_on(server):
    srv, _ = server
    assert raw(srv, b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n").startswith(
        b"HTTP/1.0 500 Internal Server Error\r\n")
    assert raw(srv, b"GET /ok HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.0 200 OK\r\n")


@pytest.mark.parametrize(("head", "status"), [
    (b"GARBAGE\r\n\r\n", b"400"),
    (b"GET nohttp HTTP/1.1\r\n\r\n", b"400"),
    (b"get / HTTP/1.1\r\n\r\n", b"400"),
    (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", b"400"),
    (b"GET / HTTP/1.1\r\nX: " + b"a" * (httpd.MAX_LINE + 10) + b"\r\n\r\n", b"431"),
    (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * (httpd.MAX_HEADERS + 1) + b"\r\n", b"431"),
])
def test_a_malformed_or_oversized_head_is_refused_before_the_handler(server, head, status):
    srv, seen = server
    assert raw(srv, head).split(b" ", 2)[1] == status
    assert seen == []


def test_a_head_cut_short_is_refused():
    with pytest.raises(BadRequest, match="blank line"):
        parse_head(io.BytesIO(b"GET / HTTP/1.1\r\nHost: x"))
    method, path, headers = parse_head(io.BytesIO(b"GET /a HTTP/1.0\r\nHOST:  h:1 \r\n\r\n"))
    assert (method, path, headers.get("host"), "Host" in headers) == ("GET", "/a", "h:1", True)


def test_connections_beyond_the_limit_are_told_busy(monkeypatch):
    release = threading.Event()
    entered = threading.Semaphore(0)

    def slow(request):
        entered.release()
        release.wait(10)
        return Reply(200, b"late")

    monkeypatch.setattr(httpd, "MAX_CONNECTIONS", 2)
    srv = HttpServer(slow, port=0)
    srv.start()
    socks = []
    try:
        for _ in range(2):
            sock = socket.create_connection(srv.server_address, timeout=10)
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            socks.append(sock)
            assert entered.acquire(timeout=10)
        assert raw(srv, b"GET / HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 503 ")
        release.set()
        for sock in socks:
            assert sock.recv(65536).startswith(b"HTTP/1.0 200 OK")
        assert raw(srv, b"GET / HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 200 OK")  # slots back
    finally:
        release.set()
        for sock in socks:
            sock.close()
        srv.stop()


def test_stop_ends_the_accept_thread_and_frees_the_port():
    srv = HttpServer(lambda request: Reply(204), port=0)
    srv.start()
    address = srv.server_address
    srv.stop()
    assert not srv._thread.is_alive()
    with pytest.raises(OSError):
        socket.create_connection(address, timeout=2).close()


def test_the_date_is_english_whatever_the_locale():
    assert httpd.http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert httpd.http_date(1_780_000_000) == "Thu, 28 May 2026 20:26:40 GMT"
