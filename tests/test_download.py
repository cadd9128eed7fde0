"""ganzoo.client.download: bounded HTTP downloads against hostile servers on 127.0.0.1."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import ganzoo.client.download as download_lib
from ganzoo.client.download import DownloadError, DownloadTooLarge, download, read_url

BODY = bytes(range(256)) * 64  # 16 KiB


class Hostile(BaseHTTPRequestHandler):
    """`/ok`, `/missing` (404), `/error` (500), `/stall` (headers, then silence), `/drip` (a byte per 0.2 s),
    `/short` (announces twice the bytes it sends), `/big` (no Content-Length, 1 MiB), `/huge` (announces 1 GiB),
    `/redirect` (a 302 to /ok whose own body never ends), `/slow_honest` (20 KB/s for 2 s)."""

    def log_message(self, *args):
        pass

    def _headers(self, length):
        self.send_response(200)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def do_GET(self):
        path = self.path
        try:
            if path == "/ok":
                self._headers(len(BODY))
                self.wfile.write(BODY)
            elif path == "/missing":
                self.send_error(404)
            elif path == "/error":
                self.send_error(500)
            elif path == "/stall":
                self._headers(len(BODY))
                self.wfile.write(BODY[:100])
                self.wfile.flush()
                time.sleep(3)
            elif path == "/drip":
                self._headers(len(BODY))
                for byte in BODY[:40]:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.2)
            elif path == "/short":
                self._headers(2 * len(BODY))
                self.wfile.write(BODY)
                self.wfile.flush()
                self.close_connection = True
            elif path == "/big":
                self._headers(None)
                self.close_connection = True
                for _ in range(64):
                    self.wfile.write(BODY)
            elif path == "/garbage":  # not HTTP at all
                self.wfile.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
                self.close_connection = True
            elif path == "/superscript":  # a Content-Length that str.isdigit() accepts and int() refuses
                self.send_response(200)
                self.send_header("Content-Length", "\u00b2")
                self.end_headers()
                self.wfile.write(b"ab")
                self.close_connection = True
            elif path == "/huge":
                self._headers(1 << 30)
                self.wfile.write(BODY)
            elif path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/ok")
                self.end_headers()
                self.close_connection = True
                for _ in range(10_000):  # 160 MB, slowly enough to take 10 s: urllib used to read it all
                    self.wfile.write(BODY)
                    time.sleep(0.001)
            elif path == "/pause":
                self._headers(2 * 4000)
                self.wfile.write(BODY[:4000])
                self.wfile.flush()
                time.sleep(1.5)  # a pause longer than the whole connect deadline, within the rate rule
                self.wfile.write(BODY[:4000])
            elif path == "/slow_honest":
                self._headers(40 * 500)
                for i in range(40):  # 500 bytes every 50 ms (10 KB/s) for 2 s: longer than any limit the test sets
                    self.wfile.write(BODY[:500])
                    self.wfile.flush()
                    time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
            pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def raw_server(script):
    """A socket server on 127.0.0.1 answering each connection with `script(connection)`; returns its URL."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # the listener was closed
                return
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    def answer(connection):
        with connection:
            try:
                connection.recv(4096)  # the request
                script(connection)
            except OSError:  # the client hung up, as it should
                pass

    threading.Thread(target=serve, daemon=True).start()
    return listener, f"http://127.0.0.1:{listener.getsockname()[1]}/file"


def trickle(data, pause):
    def script(connection):
        for byte in data:
            connection.sendall(bytes([byte]))
            time.sleep(pause)

    return script


HEADERS = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Padding: " + b"x" * 200 + b"\r\n\r\nhello"


def test_a_good_download_writes_every_byte(server, tmp_path):
    target = tmp_path / "file.part"
    assert download(f"{server}/ok", target, max_bytes=len(BODY)) == len(BODY)
    assert target.read_bytes() == BODY
    assert read_url(f"{server}/ok", max_bytes=len(BODY)) == BODY
    assert not [t for t in threading.enumerate() if t.name == "ganzoo-download-watchdog"]


@pytest.mark.parametrize(
    "path, kwargs, error, message",
    [
        ("/missing", {}, FileNotFoundError, "404"),
        ("/error", {}, DownloadError, "HTTP 500"),
        ("/stall", {"speed_limit": 1, "speed_time": 0.5}, DownloadError, "stalled: no data for 0.5 s"),
        ("/drip", {"speed_limit": 100, "speed_time": 1}, DownloadError, "slower than 100 bytes/s over 1 s"),
        ("/short", {}, DownloadError, "cut off"),
        ("/big", {"max_bytes": 100_000}, DownloadTooLarge, "at most 100000 bytes"),
        ("/huge", {"max_bytes": 100_000}, DownloadTooLarge, "Content-Length of 1073741824"),
        ("/garbage", {}, DownloadError, "BadStatusLine"),
    ],
)
def test_faults_fail_fast_and_leave_no_file(server, tmp_path, path, kwargs, error, message):
    target = tmp_path / "file.part"
    start = time.monotonic()
    with pytest.raises(error, match=message):
        download(f"{server}{path}", target, **{"max_bytes": 1 << 20, **kwargs})
    assert time.monotonic() - start < 2.5
    assert not target.exists()


@pytest.mark.parametrize("at_once", [0, len(b"HTTP/1.1 200 OK\r\n")], ids=["status_line", "headers"])
def test_trickled_headers_end_at_the_response_deadline(tmp_path, at_once):
    # One byte per 0.2 s: the 250-byte header takes 50 s, each byte well within any per-read timeout.
    listener, url = raw_server(lambda c: (c.sendall(HEADERS[:at_once]), trickle(HEADERS[at_once:], 0.2)(c)))
    try:
        start = time.monotonic()
        with pytest.raises(DownloadError, match=r"no complete response within 1 s \(connecting"):
            download(url, tmp_path / "x.part", max_bytes=100, connect_seconds=1)
        assert time.monotonic() - start < 2.5
        assert not (tmp_path / "x.part").exists()
    finally:
        listener.close()


def test_a_trickled_body_fails_at_the_rate_floor_however_steady(tmp_path):
    # 20 bytes/s, each byte well inside any stall timeout: only the rate rule ends it.
    body = b"y" * 10_000
    script = lambda c: (c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n"), trickle(body, 0.05)(c))  # noqa: E731
    listener, url = raw_server(script)
    try:
        start = time.monotonic()
        with pytest.raises(DownloadError, match="slower than 1000 bytes/s over 1 s"):
            download(url, tmp_path / "x.part", max_bytes=10_000, speed_limit=1000, speed_time=1)
        assert time.monotonic() - start < 2.5
        assert not (tmp_path / "x.part").exists()
    finally:
        listener.close()


@pytest.mark.parametrize("announce", [False, True], ids=["no_length", "length_too_small"])
def test_more_bytes_than_allowed_never_reach_the_file(tmp_path, monkeypatch, announce):
    """A server sending 1 MiB against a cap of 1000: the stream stops at 1001 bytes, nothing past the cap is written."""
    header = b"HTTP/1.1 200 OK\r\n" + (b"Content-Length: 500\r\n" if announce else b"") + b"Connection: close\r\n\r\n"
    listener, url = raw_server(lambda c: (c.sendall(header), c.sendall(b"z" * (1 << 20))))
    largest = []
    real_open = open

    class Counting:
        def __init__(self, *args):
            self.file, self.size = real_open(*args), 0

        def write(self, data):
            self.size += len(data)
            largest.append(self.size)
            return self.file.write(data)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

    monkeypatch.setattr(download_lib, "open", Counting, raising=False)
    try:
        target = tmp_path / "x.part"
        if announce:  # http.client reads what Content-Length says and no more: the extra bytes are never read
            assert download(url, target, max_bytes=1000) == 500
            assert target.read_bytes() == b"z" * 500
        else:
            with pytest.raises(DownloadTooLarge, match="at most 1000 bytes"):
                download(url, target, max_bytes=1000)
            assert not target.exists()
        assert max(largest, default=0) <= 1000
    finally:
        listener.close()


def test_a_slow_honest_download_outlasting_every_limit_completes(server, tmp_path):
    # 10 KB/s for 2 s, above a 2 KB/s floor: no overall deadline cuts it off.
    target = tmp_path / "file.part"
    start = time.monotonic()
    assert (
        download(
            f"{server}/slow_honest", target, max_bytes=20_000, connect_seconds=0.5, speed_limit=2000, speed_time=0.5
        )
        == 20_000
    )
    assert time.monotonic() - start > 1.5
    assert target.read_bytes() == BODY[:500] * 40


def test_a_pause_in_the_body_longer_than_the_connect_deadline_is_allowed_by_the_rate_rule(server, tmp_path):
    # 8,000 bytes in about 1.5 s is above a 1 KB/s floor over 5 s: the connect deadline (1 s) must not apply.
    target = tmp_path / "file.part"
    got = download(f"{server}/pause", target, max_bytes=8000, connect_seconds=1, speed_limit=1000, speed_time=5)
    assert got == 8000 and target.read_bytes() == BODY[:4000] * 2


def test_a_redirect_is_followed_without_reading_its_body(server, tmp_path):
    start = time.monotonic()
    assert download(f"{server}/redirect", tmp_path / "x.part", max_bytes=len(BODY), connect_seconds=2) == len(BODY)
    assert time.monotonic() - start < 2


@pytest.mark.parametrize("max_bytes, error", [(None, TypeError), (-1, ValueError), (True, TypeError)])
def test_the_cap_is_required(server, tmp_path, max_bytes, error):
    with pytest.raises(error, match="max_bytes"):
        download(f"{server}/ok", tmp_path / "x.part", max_bytes=max_bytes)
    assert not (tmp_path / "x.part").exists()


def test_an_unreadable_content_length_is_ignored(server, tmp_path):
    assert download(f"{server}/superscript", tmp_path / "x.part", max_bytes=10) == 2


def test_nothing_listens(tmp_path):
    with pytest.raises(DownloadError, match="Could not connect"):
        download("http://127.0.0.1:9/x", tmp_path / "x.part", max_bytes=10, connect_seconds=2)


def test_other_schemes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="http:// or https://"):
        download("file:///etc/passwd", tmp_path / "x.part", max_bytes=10)


def test_an_existing_file_is_never_overwritten_or_removed(server, tmp_path):
    target = tmp_path / "mine.txt"
    target.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        download(f"{server}/ok", target, max_bytes=len(BODY))
    assert target.read_bytes() == b"precious"
