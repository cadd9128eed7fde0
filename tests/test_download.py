"""ganzoo.download: bounded HTTP downloads against a hostile server on 127.0.0.1."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ganzoo.download import DownloadError, download, read_url

BODY = bytes(range(256)) * 64  # 16 KiB


class Hostile(BaseHTTPRequestHandler):
    """`/ok`, `/missing` (404), `/error` (500), `/stall` (headers, then silence), `/drip` (a byte per 0.2 s),
    `/short` (announces twice the bytes it sends), `/big` (no Content-Length, 1 MiB), `/huge` (announces 1 GiB)."""

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


def test_a_good_download_writes_every_byte(server, tmp_path):
    target = tmp_path / "file.part"
    assert download(f"{server}/ok", target, max_bytes=len(BODY)) == len(BODY)
    assert target.read_bytes() == BODY
    assert read_url(f"{server}/ok", max_bytes=len(BODY)) == BODY


@pytest.mark.parametrize(
    "path, kwargs, error, message",
    [
        ("/missing", {}, FileNotFoundError, "404"),
        ("/error", {}, DownloadError, "HTTP 500"),
        ("/stall", {"stall_seconds": 0.5}, DownloadError, "stalled"),
        ("/drip", {"stall_seconds": 2, "deadline_seconds": 1}, DownloadError, "longer than 1 s"),
        ("/short", {}, DownloadError, "cut off"),
        ("/big", {"max_bytes": 100_000}, DownloadError, "at most 100000 bytes"),
        ("/huge", {"max_bytes": 100_000}, DownloadError, "Content-Length of 1073741824"),
        ("/garbage", {}, DownloadError, "BadStatusLine"),
    ],
)
def test_faults_fail_fast_and_leave_no_file(server, tmp_path, path, kwargs, error, message):
    target = tmp_path / "file.part"
    start = time.monotonic()
    with pytest.raises(error, match=message):
        download(f"{server}{path}", target, **kwargs)
    assert time.monotonic() - start < 2.5
    assert not target.exists()


def test_an_unreadable_content_length_is_ignored(server, tmp_path):
    assert download(f"{server}/superscript", tmp_path / "x.part") == 2


def test_nothing_listens(tmp_path):
    with pytest.raises(DownloadError, match="Could not connect"):
        download("http://127.0.0.1:9/x", tmp_path / "x.part", stall_seconds=2)


def test_an_existing_file_is_never_overwritten_or_removed(server, tmp_path):
    target = tmp_path / "mine.txt"
    target.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        download(f"{server}/ok", target)
    assert target.read_bytes() == b"precious"
