"""The watchdog of a bounded download: a response deadline and a minimum rate, whatever the server does.

A thread watches the clock and the bytes received. When the response
headers are not in within `connect_seconds`, or the body's average rate
over the last `speed_time` seconds falls under `speed_limit` bytes/s, it
shuts the connection's sockets down, which ends any read blocked on them;
`ganzoo.client.download` then reports why (`Watchdog.broken`). Standard
library only.
"""

import collections
import socket
import threading
import time


class Watchdog:
    """Breaks the connection when the response deadline or the rate floor is missed.

    It keeps a `dup()` of every socket the download opens (so that it never
    touches a descriptor number the process has reused) and calls
    `shutdown()` on it: shutting down any descriptor of a TCP socket ends
    reads blocked on the others, TLS included.
    """

    def __init__(self, connect_seconds, speed_limit, speed_time):
        self.connect_seconds, self.speed_limit, self.speed_time = connect_seconds, speed_limit, speed_time
        self.start = time.monotonic()
        self.body_start = None
        self.received = 0  # body bytes so far, written by the reading thread
        self.reason = None
        self._lock = threading.Lock()
        self._sockets = []  # copies the watchdog shuts down
        self._connections = []  # the connections themselves, whose timeouts the body reads use
        self._stopped = threading.Event()
        self._tick = max(0.01, min(0.1, connect_seconds / 10, speed_time / 10))
        self._thread = threading.Thread(target=self._watch, name="ganzoo-download-watchdog", daemon=True)
        self._thread.start()

    def create_connection(self, address, timeout=None, source_address=None, *args, **kwargs):
        """`socket.create_connection`, bounded by what is left of the response deadline, and watched."""
        left = self.connect_seconds - (time.monotonic() - self.start)
        if left <= 0 or self.reason:
            raise TimeoutError(f"no response within {self.connect_seconds} s")
        if isinstance(timeout, (int, float)):
            left = min(left, timeout)
        sock = socket.create_connection(address, left, source_address, *args, **kwargs)
        with self._lock:
            if self.reason or self._stopped.is_set():
                sock.close()
                raise TimeoutError(f"no response within {self.connect_seconds} s")
            self._sockets.append(sock.dup())
            self._connections.append(sock)
        return sock

    def body_started(self):
        """From here the rate rule bounds the reads: the connect deadline's socket timeout no longer applies."""
        self.body_start = time.monotonic()
        with self._lock:
            for sock in self._connections:
                try:  # a backstop well past the rate rule, which the watchdog enforces
                    sock.settimeout(self.speed_time + self.connect_seconds)
                except OSError:  # a redirect's connection, already closed
                    pass

    def _fire(self, reason):
        with self._lock:
            if self._stopped.is_set():
                return
            self.reason = reason
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:  # already closed by the peer
                    pass

    def _watch(self):
        samples = collections.deque()  # (time, bytes received): the last `speed_time` seconds
        while not self._stopped.wait(self._tick):
            now = time.monotonic()
            if self.body_start is None:
                if now - self.start > self.connect_seconds:
                    return self._fire("headers")
                continue
            if not samples:
                samples.append((self.body_start, 0))
            samples.append((now, self.received))
            while len(samples) > 1 and samples[1][0] <= now - self.speed_time:
                samples.popleft()
            since, count = samples[0]
            if now - since >= self.speed_time and self.received - count < self.speed_limit * (now - since):
                return self._fire("slow" if self.received > count else "stall")

    def stop(self):
        """Ends the watch and closes its socket copies (the download's own sockets are the caller's)."""
        with self._lock:
            self._stopped.set()
            for sock in self._sockets:
                sock.close()
        self._thread.join()

    def broken(self, url, written):
        """Returns why the download of `url` broke a limit (with `written` bytes so far), or None."""
        if self.reason == "headers":
            return (
                f"Could not download {url}: no complete response within {self.connect_seconds} s "
                "(connecting, the request and the response headers)"
            )
        if self.reason == "stall":
            return f"The download of {url} stalled: no data for {self.speed_time} s ({written} bytes so far)"
        if self.reason == "slow":
            return (
                f"The download of {url} was slower than {self.speed_limit} bytes/s over {self.speed_time} s "
                f"({written} bytes so far)"
            )
        return None
