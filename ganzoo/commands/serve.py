"""`ganzoo serve PRESET_OR_ONNX`: an HTTP service of PNG grids (see `ganzoo.export.service`).

Needs only the base install plus the `serve` extra (Starlette, Uvicorn): the
generator runs in onnxruntime.
"""

import math
import os
import socket
import sys


def register(subparsers):
    """Adds the `serve` command."""
    parser = subparsers.add_parser(
        "serve",
        help="serve a generator over HTTP: GET /generate?n=&label=&seed= returns a PNG grid",
        description=(
            "Serve a preset's ONNX generator (or an .onnx file) over HTTP with onnxruntime: "
            "GET /generate?n=16&seed=0&label=3 (a PNG grid), GET /metadata (JSON), GET /healthz. "
            "Needs pip install 'keras-ganzoo[serve]'."
        ),
    )
    parser.add_argument("source", metavar="PRESET_OR_ONNX", help="a preset name or an .onnx file exported by ganzoo")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--hub", help="hub for preset names (default: $GANZOO_HUB_URL, else the shipped presets)")
    parser.add_argument("--max-n", type=int, default=256, help="largest n one request may ask for (default 256)")
    limits = parser.add_argument_group(
        "limits",
        "A request's images cost about 35 bytes of memory per pixel at most (16x16 images, upscaled in the grid), "
        "so generation holds at most --max-in-flight x --max-pixels x 35 bytes (about 600 MB with the defaults); "
        "computing threads are at most --max-in-flight x --threads. Beyond a limit a request gets HTTP 503 with "
        "Retry-After, or HTTP 400 naming n for the pixel budget.",
    )
    limits.add_argument(
        "--max-pixels",
        type=int,
        default=4 * 2**20,
        help="pixel budget of one request, n x height x width x channels (default 4194304, 4 Mi: n <= 5349 of 28x28 "
        "grey images, n <= 21 of 256x256 RGB)",
    )
    limits.add_argument(
        "--max-in-flight",
        type=int,
        default=4,
        help="requests whose images are made at once, one thread each (default 4)",
    )
    limits.add_argument(
        "--queue-timeout",
        type=float,
        default=0.5,
        help="seconds a request waits for one of those before a 503 with Retry-After (default 0.5; 0: no wait)",
    )
    limits.add_argument(
        "--threads",
        type=int,
        default=1,
        help="onnxruntime threads per request (default 1: concurrent requests use the cores; see benchmarks/serve.py)",
    )
    limits.add_argument(
        "--max-connections",
        type=int,
        help="open connections served at once; a new one beyond them gets a 503 with Retry-After and is closed "
        "(default 1000, or a quarter of the open-file limit if that is lower)",
    )
    limits.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        help="seconds a client has to send a whole request, from connecting or from its previous response; "
        "then the connection is closed (default 10; slow-header clients cannot hold connections)",
    )
    limits.add_argument(
        "--keep-alive",
        type=float,
        default=5.0,
        help="seconds an idle keep-alive connection stays open (default 5)",
    )
    parser.set_defaults(handler=run_serve)


def open_generator(source, hub=None, threads=None):
    """An `OnnxGenerator` for a preset name or an `.onnx` path."""
    from ganzoo.export.runtime import OnnxGenerator

    if source.endswith(".onnx") or os.sep in source or "/" in source:
        return OnnxGenerator(source, intra_op_threads=threads)
    return OnnxGenerator.from_preset(source, hub, intra_op_threads=threads)


def listening_socket(host, port):
    """A TCP socket bound to `(host, port)` and listening.

    Raises:
        OSError: the address is taken or not ours, with a one-line message.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so; without it, Nagle's algorithm
    # and the client's delayed ACK add 40 ms to every keep-alive response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(1024)  # connections queue from now on, so a client may start as soon as we print the address
    except OSError as error:
        sock.close()
        raise OSError(f"Could not listen on {host}:{port}: {error.strerror or error}") from None
    return sock


def open_file_limit():
    """The process's soft limit on open files, or None where there is none to read."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def check_limits(args):
    """Checks the limit flags; fills in `args.max_connections`. Raises `ValueError` naming the flag."""
    for flag, value in (
        ("--max-n", args.max_n),
        ("--max-pixels", args.max_pixels),
        ("--max-in-flight", args.max_in_flight),
        ("--threads", args.threads),
        ("--max-connections", args.max_connections),
    ):
        if value is not None and value < 1:
            raise ValueError(f"Expected {flag} to be a positive int. Received: {flag} {value}")
    for flag, value, low, high in (
        ("--queue-timeout", args.queue_timeout, 0, 60),
        ("--header-timeout", args.header_timeout, 0.1, 600),
        ("--keep-alive", args.keep_alive, 0.1, 600),
    ):
        if not low <= value <= high:  # also refuses nan
            raise ValueError(f"Expected {flag} to be seconds in [{low}, {high}]. Received: {flag} {value}")
    files = open_file_limit()
    # A flood of connections holds up to about 4 x max(cap, 128) descriptors (served, turned away and lingering,
    # accepted in one burst: see ganzoo.export.connection_limits); the process needs 64 of its own.
    allowed = None if files is None else max(1, (files - 64) // 4)
    if args.max_connections is None:
        args.max_connections = 1000 if allowed is None else min(1000, allowed)
    elif allowed is not None and args.max_connections > allowed:
        raise ValueError(
            f"Expected --max-connections <= {allowed} under the open-file limit {files} (ulimit -n): a flood holds "
            f"up to 4 descriptors per connection. Received: --max-connections {args.max_connections}"
        )


def run_serve(args):
    """Handler of `ganzoo serve`."""
    if not 0 <= args.port <= 65535:
        raise ValueError(f"Expected --port in [0, 65535]. Received: --port {args.port}")
    check_limits(args)
    from ganzoo.install_hints import require

    require("ganzoo serve", "starlette", "uvicorn")

    from ganzoo.export.connection_limits import uvicorn_server
    from ganzoo.export.service import create_app

    generator = open_generator(args.source, args.hub, args.threads)
    per_image = math.prod(generator.image_shape)
    if args.max_pixels < per_image:
        shape = "x".join(map(str, generator.image_shape))
        raise ValueError(
            f"Expected --max-pixels >= {per_image}, one {shape} image. Received: --max-pixels {args.max_pixels}"
        )
    # A file is named by its base name: /metadata must not show the server's folders.
    app = create_app(
        generator,
        max_n=args.max_n,
        max_pixels=args.max_pixels,
        max_in_flight=args.max_in_flight,
        queue_timeout=args.queue_timeout,
        name=os.path.basename(args.source),
    )
    sock = listening_socket(args.host, args.port)  # bound here, so that --port 0 can report the port it got
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if sock.family == socket.AF_INET6 else host
    print(
        f"Serving {args.source} ({generator!r}) on http://{shown}:{port}/generate?n=16&seed=0 (Ctrl-C stops)",
        flush=True,
    )
    server = uvicorn_server(
        app, header_timeout=args.header_timeout, keep_alive=args.keep_alive, max_connections=args.max_connections
    )
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    print("Stopped.", file=sys.stderr)
    return 0
