"""`ganzoo serve PRESET_OR_ONNX`: an HTTP service of PNG grids (see `ganzoo.export.service`).

Needs only the base install plus the `serve` extra (Starlette, Uvicorn): the
generator runs in onnxruntime.
"""

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
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="onnxruntime threads per request (default 1: concurrent requests use the cores; see benchmarks/serve.py)",
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


def run_serve(args):
    """Handler of `ganzoo serve`."""
    if not 0 <= args.port <= 65535:
        raise ValueError(f"Expected --port in [0, 65535]. Received: --port {args.port}")
    if args.max_n < 1:
        raise ValueError(f"Expected --max-n to be a positive int. Received: --max-n {args.max_n}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"Expected --threads to be a positive int. Received: --threads {args.threads}")
    from ganzoo.install_hints import require

    require("ganzoo serve", "starlette", "uvicorn")
    import uvicorn

    from ganzoo.export.service import create_app
    generator = open_generator(args.source, args.hub, args.threads)
    # A file is named by its base name: /metadata must not show the server's folders.
    app = create_app(generator, max_n=args.max_n, name=os.path.basename(args.source))
    sock = listening_socket(args.host, args.port)  # bound here, so that --port 0 can report the port it got
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if sock.family == socket.AF_INET6 else host
    print(
        f"Serving {args.source} ({generator!r}) on http://{shown}:{port}/generate?n=16&seed=0 (Ctrl-C stops)",
        flush=True,
    )
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    print("Stopped.", file=sys.stderr)
    return 0
