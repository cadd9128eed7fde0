"""Connection limits for `ganzoo serve`: a request deadline and a cap on open connections, on Uvicorn's h11 protocol.

Uvicorn closes an idle keep-alive connection after `timeout_keep_alive`, but
its h11 protocol sets no deadline on a request that has begun: a client that
sends `GET / HTTP/1.1\\r\\nX-a: ` and then a byte now and then (slowloris)
holds its connection, and a file descriptor, for as long as it likes, since
every byte cancels the keep-alive timer. Its `limit_concurrency` answers 503
only once a request's headers are complete, so such connections are never
turned away either. `limited_protocol` returns an `H11Protocol` subclass that
adds both limits:

- a request deadline: from the moment a connection opens, or its previous
  response ends, the client has `header_timeout` seconds to deliver a whole
  request (request line, headers and any body); then the connection is
  closed. The deadline is not reset by each byte, so trickling does not
  extend it. A response still waiting in our buffer when it passes gets more
  time only while the client reads at least `MIN_DRAIN_BYTES` of it per
  `header_timeout`; else the connection is aborted, buffer and all.
- a connection cap: with `max_connections` connections open, a new one is
  answered `503` with `Retry-After` at once, without being parsed, and closed
  once the client has closed its side or after `LINGER_SECONDS` (reading and
  discarding what it sends meanwhile, so that the client reads the 503 rather
  than a reset). When as many turned-away connections linger as the cap, the
  next ones are reset at once.

So a flood of connections holds a bounded number of descriptors: the
connections served and those lingering (twice the cap) and those accepted in
one burst but not yet seen by the protocol (asyncio accepts up to the
listen backlog per loop turn, set here to `accept_backlog(max_connections)`):
about `4 * max(max_connections, 128)` in all, measured in benchmarks/serve.py.

Example:
    >>> server = uvicorn_server(app, header_timeout=10, keep_alive=5, max_connections=1000)
    >>> server.run(sockets=[sock])
"""

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

LINGER_SECONDS = 2.0
MIN_DRAIN_BYTES = 16 * 1024  # per header_timeout: a response read slower than this is dropped
_REQUEST_IN = (h11.DONE, h11.MUST_CLOSE)  # the client's side once its whole request has arrived


def busy_response(retry_after):
    """The raw bytes of the 503 sent to a connection beyond the cap."""
    body = b'{"error": "Expected fewer open connections: the server is at its connection limit.", "parameter": null}'
    head = (
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nretry-after: {retry_after}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _Counter:
    """Connections turned away and not closed yet, shared by one server's protocols."""

    def __init__(self):
        self.lingering = 0


def limited_protocol(header_timeout, max_connections, retry_after=1):
    """An `H11Protocol` subclass with a request deadline and a connection cap (see the module docstring).

    Args:
        header_timeout: seconds a client has to send a whole request, from
            connecting or from the end of its previous response.
        max_connections: open connections served at once; more get a 503.
        retry_after: the `Retry-After` seconds of that 503.
    """
    busy = busy_response(retry_after)
    turned_away = _Counter()

    class LimitedH11Protocol(H11Protocol):
        _deadline = None
        _rejected = False
        _lingering = False

        def connection_made(self, transport):
            if len(self.connections) >= max_connections:
                self._turn_away(transport)
                return
            super().connection_made(transport)
            self._arm_deadline()

        def _turn_away(self, transport):
            self._rejected = True
            self.transport = transport
            if turned_away.lingering >= max_connections:
                transport.abort()
                return
            turned_away.lingering += 1
            self._lingering = True
            transport.write(busy)
            if transport.can_write_eof():
                transport.write_eof()  # FIN after the 503; keep reading until the client closes
            self._deadline = self.loop.call_later(LINGER_SECONDS, transport.abort)

        def data_received(self, data):
            if self._rejected:
                return  # a turned-away client's request, read and dropped
            super().data_received(data)

        def eof_received(self):
            if self._rejected:
                return False  # the transport closes itself
            return super().eof_received()

        def connection_lost(self, exc):
            self._cancel_deadline()
            if self._rejected:
                turned_away.lingering -= self._lingering
                self._lingering = False
                return
            super().connection_lost(exc)

        def handle_events(self):
            super().handle_events()
            if self.conn.their_state in _REQUEST_IN:
                self._cancel_deadline()

        def on_response_complete(self):
            self._arm_deadline()  # before the next request is parsed: a pipelined one cancels it at once
            super().on_response_complete()

        def _arm_deadline(self):
            self._cancel_deadline()
            if not self.transport.is_closing():
                self._unsent = self.transport.get_write_buffer_size()
                self._deadline = self.loop.call_later(header_timeout, self._deadline_passed)

        def _cancel_deadline(self):
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _deadline_passed(self):
            self._deadline = None
            unsent = self.transport.get_write_buffer_size()
            if not unsent:
                self.transport.close()  # at once; the kernel still delivers what it holds, with no descriptor of ours
            elif self._unsent - unsent >= MIN_DRAIN_BYTES:  # a slow reader still taking its response: more time
                self._unsent = unsent
                self._deadline = self.loop.call_later(header_timeout, self._deadline_passed)
            else:
                self.transport.abort()  # close would wait, holding the descriptor, for bytes nobody reads

    return LimitedH11Protocol


def accept_backlog(max_connections):
    """The listen backlog, which is also how many connections asyncio accepts per loop turn."""
    return max(128, min(1024, max_connections))


def uvicorn_server(app, *, header_timeout, keep_alive, max_connections, retry_after=1):
    """A `uvicorn.Server` for `app` (h11) with the limits of `limited_protocol`; start it with `.run(sockets=...)`.

    Args:
        app: the ASGI app.
        header_timeout: seconds a client has to send a whole request.
        keep_alive: seconds an idle keep-alive connection stays open.
        max_connections: open connections served at once.
        retry_after: `Retry-After` seconds of the 503 beyond `max_connections`.
    """
    protocol = limited_protocol(header_timeout, max_connections, retry_after)
    config = uvicorn.Config(
        app,
        http=protocol,
        ws="none",
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=keep_alive,
        backlog=accept_backlog(max_connections),
    )
    return uvicorn.Server(config)
