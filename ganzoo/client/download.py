"""A bounded HTTP(S) download into a file, with the standard library only.

The zoo client downloads preset files with this, so that the base install
(numpy, onnxruntime, pillow: no Keras) can fetch an ONNX generator. Every
download is bounded three ways, whatever the server does:

- a response deadline: connecting, the TLS handshake, sending the request
  and receiving the status line and every header (over all redirects) take
  at most `connect_seconds` in total, however slowly the bytes trickle in
  (the host name lookup is the system resolver's, with its own timeouts);
- a minimum rate, as curl's `--speed-limit`/`--speed-time`: the body is
  abandoned when its average rate over the last `speed_time` seconds is
  under `speed_limit` bytes/s (a stall is the case of no byte at all). A
  trickling mirror fails within a minute; a large file on a slow honest
  link (above the floor) completes however long it takes;
- a size cap `max_bytes` (the preset's `size_bytes`): the stream stops at
  `max_bytes + 1` bytes, and no byte past the cap is written.

A watchdog thread (`ganzoo.client.download_watchdog`) enforces the time
limits: when one is broken it shuts the connection's sockets down, which
ends any read blocked on them. Whatever goes wrong, the partial file is
removed.

Example:
    >>> download("http://127.0.0.1:8000/dcgan_digits.onnx", "/tmp/x.part", max_bytes=402832)
    402832
"""

import http.client
import os
import urllib.error
import urllib.parse
import urllib.request

from ganzoo.client.download_watchdog import Watchdog

CONNECT_SECONDS = 30  # connect + request + status line + headers, all redirects together
SPEED_LIMIT = 1024  # bytes/s: the slowest average rate accepted ...
SPEED_TIME = 30  # ... over this many seconds
_CHUNK = 1 << 16


class DownloadError(ConnectionError):
    """A download failed: unreachable, cut off, too slow or too large."""


class DownloadTooLarge(DownloadError):
    """The server sent (or announced) more than `max_bytes`."""


def _check(watchdog, url, written):
    """Raises the `DownloadError` of a limit the watchdog saw broken, if any."""
    reason = watchdog.broken(url, written)
    if reason:
        raise DownloadError(reason)


class _Redirect(urllib.request.HTTPRedirectHandler):
    """Follows redirects without reading their bodies (urllib reads them whole, and a hostile one is endless)."""

    def http_error_302(self, req, fp, code, msg, headers):
        fp.close()  # a closed response reads as b""
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _opener(watchdog):
    """An opener for http(s) only (no ftp:, file:, data:), whose connections the watchdog owns."""

    class Connection(http.client.HTTPConnection):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._create_connection = watchdog.create_connection

    class Handler(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(Connection, req)

    handlers = [urllib.request.ProxyHandler(), urllib.request.UnknownHandler(), Handler()]
    if hasattr(http.client, "HTTPSConnection"):  # Python built with ssl

        class SecureConnection(http.client.HTTPSConnection):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self._create_connection = watchdog.create_connection

        class SecureHandler(urllib.request.HTTPSHandler):
            def https_open(self, req):
                return self.do_open(SecureConnection, req, context=self._context)

        handlers.append(SecureHandler())
    opener = urllib.request.OpenerDirector()
    for handler in handlers + [
        _Redirect(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ]:
        opener.add_handler(handler)
    return opener


def _open(opener, url, watchdog):
    """Sends the GET; returns the response once its headers are in. See `download` for errors."""
    try:
        response = opener.open(url, timeout=watchdog.connect_seconds + watchdog.speed_time)
    except urllib.error.HTTPError as error:
        error.close()
        _check(watchdog, url, 0)
        if error.code == 404:
            raise FileNotFoundError(f"HTTP 404 Not Found for {url}") from None
        raise DownloadError(f"Could not download {url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        _check(watchdog, url, 0)
        reason = getattr(error, "reason", error)
        raise DownloadError(f"Could not connect to download {url}: {reason}") from None
    except (http.client.HTTPException, ValueError) as error:  # a malformed status line or headers, a bad URL
        _check(watchdog, url, 0)
        raise DownloadError(f"Could not download {url}: {type(error).__name__}: {error}") from None
    _check(watchdog, url, 0)  # the headers may have been cut short by the watchdog
    watchdog.body_started()
    return response


def _stream(url, sink, *, max_bytes, connect_seconds, speed_limit, speed_time):
    """GETs `url` and passes each chunk to `sink`; returns the byte count. See `download` for errors."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
        raise TypeError(f"Expected max_bytes to be an int. Received: max_bytes={max_bytes!r}")
    if max_bytes < 0:
        raise ValueError(f"Expected max_bytes to be >= 0. Received: max_bytes={max_bytes}")
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        raise ValueError(f"Expected an http:// or https:// URL. Received: url={url!r}")
    written = 0
    watchdog = Watchdog(connect_seconds, speed_limit, speed_time)
    try:
        response = _open(_opener(watchdog), url, watchdog)
        with response:
            announced = response.headers.get("Content-Length")
            announced = int(announced) if announced and announced.isascii() and announced.isdigit() else None
            if announced is not None and announced > max_bytes:
                raise DownloadTooLarge(
                    f"Expected at most {max_bytes} bytes from {url}. Received: a Content-Length of {announced}"
                )
            while True:
                try:
                    chunk = response.read1(min(_CHUNK, max_bytes + 1 - written))  # one byte past the cap at most
                except http.client.IncompleteRead:
                    _check(watchdog, url, written)
                    raise DownloadError(f"The download of {url} was cut off after {written} bytes") from None
                except (TimeoutError, OSError, http.client.HTTPException) as error:
                    _check(watchdog, url, written)
                    raise DownloadError(f"The download of {url} failed after {written} bytes: {error}") from None
                _check(watchdog, url, written)
                if not chunk:
                    break
                written += len(chunk)
                watchdog.received = written
                if written > max_bytes:
                    raise DownloadTooLarge(f"Expected at most {max_bytes} bytes from {url}. Received: more; cut off")
                sink(chunk)
    finally:
        watchdog.stop()
    if announced is not None and written < announced:
        raise DownloadError(f"The download of {url} was cut off: {written} of {announced} bytes")
    return written


def download(url, path, *, max_bytes, connect_seconds=CONNECT_SECONDS, speed_limit=SPEED_LIMIT, speed_time=SPEED_TIME):
    """Downloads `url` into the new file `path`; returns the number of bytes written.

    Args:
        url: an `http://` or `https://` URL.
        path: the file to create (it must not exist; it is removed on any
            failure).
        max_bytes: the most bytes accepted (required: the caller knows the
            size it expects).
        connect_seconds: seconds for connecting and receiving the response
            headers.
        speed_limit: the lowest average rate in bytes/s, ...
        speed_time: ... over this many seconds of the body.

    Returns:
        The size in bytes.

    Raises:
        FileNotFoundError: HTTP 404.
        DownloadError: another HTTP error, no connection, a missed response
            deadline, a body slower than the floor, or fewer bytes than the
            server announced; `DownloadTooLarge` (a subclass) for more than
            `max_bytes`.
        OSError: the file cannot be written (a full disk says so).
    """
    file = open(path, "xb")  # outside the try: an existing file is never removed
    try:
        with file:
            return _stream(
                url,
                file.write,
                max_bytes=max_bytes,
                connect_seconds=connect_seconds,
                speed_limit=speed_limit,
                speed_time=speed_time,
            )
    except BaseException:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        raise


def read_url(url, *, max_bytes, connect_seconds=CONNECT_SECONDS, speed_limit=SPEED_LIMIT, speed_time=SPEED_TIME):
    """Returns the body of `url` as bytes, bounded like `download` (errors as there)."""
    chunks = []
    _stream(
        url,
        chunks.append,
        max_bytes=max_bytes,
        connect_seconds=connect_seconds,
        speed_limit=speed_limit,
        speed_time=speed_time,
    )
    return b"".join(chunks)
