"""A bounded HTTP(S) download into a file, with the standard library only.

The zoo client downloads preset files with this, so that the base install
(numpy, onnxruntime, pillow: no Keras) can fetch an ONNX generator. Every
download is bounded three ways: a stall deadline (no byte for
`stall_seconds`), an overall deadline (checked between reads, so a download
ends within `deadline_seconds + stall_seconds`), and a size cap (a server
that sends more than the preset's `size_bytes` is cut off before the disk
fills).
Whatever goes wrong, the partial file is removed.

Example:
    >>> download("http://127.0.0.1:8000/dcgan_digits.onnx", "/tmp/x.part", max_bytes=500_000)
    402832
"""

import http.client
import os
import time
import urllib.error
import urllib.request

STALL_SECONDS = 60
DEADLINE_SECONDS = 600
_CHUNK = 1 << 16


class DownloadError(ConnectionError):
    """A download failed: unreachable, cut off, too slow or too large."""


def _stream(url, sink, *, max_bytes, stall_seconds, deadline_seconds):
    """GETs `url` and passes each chunk to `sink`; returns the byte count. See `download` for errors."""
    start = time.monotonic()
    written = 0
    try:
        response = urllib.request.urlopen(url, timeout=stall_seconds)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            raise FileNotFoundError(f"HTTP 404 Not Found for {url}") from None
        raise DownloadError(f"Could not download {url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(f"Could not connect to download {url}: {reason}") from None
    except (http.client.HTTPException, ValueError) as error:  # a malformed status line or headers, a bad URL
        raise DownloadError(f"Could not download {url}: {type(error).__name__}: {error}") from None
    with response:
        announced = response.headers.get("Content-Length")
        announced = int(announced) if announced and announced.isascii() and announced.isdigit() else None
        if max_bytes is not None and announced is not None and announced > max_bytes:
            raise DownloadError(
                f"Expected at most {max_bytes} bytes from {url}. Received: a Content-Length of {announced}"
            )
        while True:
            if time.monotonic() - start > deadline_seconds:
                raise DownloadError(
                    f"The download of {url} took longer than {deadline_seconds} s ({written} bytes so far)"
                )
            try:
                chunk = response.read1(_CHUNK)  # what has arrived: the deadline is checked between reads
            except http.client.IncompleteRead:
                raise DownloadError(f"The download of {url} was cut off after {written} bytes") from None
            except (TimeoutError, OSError, http.client.HTTPException) as error:
                raise DownloadError(
                    f"The download of {url} stalled: no data for {stall_seconds} s ({written} bytes so far; {error})"
                ) from None
            if not chunk:
                break
            written += len(chunk)
            if max_bytes is not None and written > max_bytes:
                raise DownloadError(f"Expected at most {max_bytes} bytes from {url}. Received: more; cut off")
            sink(chunk)
    if announced is not None and written < announced:
        raise DownloadError(f"The download of {url} was cut off: {written} of {announced} bytes")
    return written


def download(url, path, *, max_bytes=None, stall_seconds=STALL_SECONDS, deadline_seconds=DEADLINE_SECONDS):
    """Downloads `url` into the new file `path`; returns the number of bytes written.

    Args:
        url: an `http://` or `https://` URL.
        path: the file to create (it must not exist; it is removed on any
            failure).
        max_bytes: the most bytes accepted; None for no cap.
        stall_seconds: seconds without a byte before giving up.
        deadline_seconds: seconds for the whole download.

    Returns:
        The size in bytes.

    Raises:
        FileNotFoundError: HTTP 404.
        DownloadError: another HTTP error, no connection, a stall, the
            deadline, more than `max_bytes`, or fewer bytes than the
            server announced.
        OSError: the file cannot be written (a full disk says so).
    """
    file = open(path, "xb")  # outside the try: an existing file is never removed
    try:
        with file:
            return _stream(
                url, file.write, max_bytes=max_bytes, stall_seconds=stall_seconds, deadline_seconds=deadline_seconds
            )
    except BaseException:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        raise


def read_url(url, *, max_bytes, stall_seconds=STALL_SECONDS, deadline_seconds=DEADLINE_SECONDS):
    """Returns the body of `url` as bytes, bounded like `download` (errors as there)."""
    chunks = []
    _stream(url, chunks.append, max_bytes=max_bytes, stall_seconds=stall_seconds, deadline_seconds=deadline_seconds)
    return b"".join(chunks)
