"""An HTTP service around one ONNX generator: PNG grids and metadata, onnxruntime only.

Routes (all `GET`):

- `/generate?n=16&seed=0&label=3&nrow=8`: a PNG grid of `n` samples. `label`
  is one class id or comma-separated ids (cycled to `n`); it defaults to
  0, 1, ..., num_classes-1 cycled for a conditional generator and must be
  absent for an unconditional one. The noise is
  `numpy.random.default_rng(seed)`, as in `OnnxGenerator.generate`, so a
  response is the same bytes for the same query; its `ETag` names the model
  file and the query (`If-None-Match` gets a 304).
- `/metadata`: the generator's metadata (the sidecar's JSON), the model
  file's sha256 and the limits.
- `/healthz`: `ok`.

A bad query gets HTTP 400 with `{"error": ..., "parameter": ...}` naming
the parameter and the expected form; the service stays up. Queries are
checked on the event loop.

Resources: one request's images are bounded in pixels, `n * H * W * C <=
max_pixels` (about 35 bytes of memory each at most, for the smallest images,
which the grid upscales: the default 4 Mi pixels keep a request under about
150 MB). Images are made by `max_in_flight` threads of the app's own pool
(onnxruntime sessions are thread-safe and release the GIL); a request that
finds them all busy waits at most `queue_timeout` seconds for one, then gets
HTTP 503 with `Retry-After`. Connections are bounded by the server
(`ganzoo.export.connection_limits`).

Needs the `serve` extra (`pip install 'keras-ganzoo[serve]'`: Starlette and
Uvicorn) on top of the base install; no TensorFlow, no Keras.

Example:
    >>> app = create_app(OnnxGenerator.from_preset("cgan_fashion_mnist"))
    >>> uvicorn.run(app, host="127.0.0.1", port=8000)   # or: ganzoo serve cgan_fashion_mnist
"""

import asyncio
import concurrent.futures
import contextlib
import hashlib
import io
import math
import re

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ganzoo.client import labels as labels_lib
from ganzoo.client.files import sha256_file
from ganzoo.client.images import grid_array
from ganzoo.client.generation import SEED_LIMIT

_INTEGER = re.compile(r"-?[0-9]{1,19}")
_CLASS_ID = re.compile(r"[0-9]{1,9}")
MAX_N = 256
MAX_PIXELS = 4 * 2**20  # n * H * W * C of one request
MAX_IN_FLIGHT = 4
QUEUE_TIMEOUT = 0.5
RETRY_AFTER = 1
MAX_SEED = SEED_LIMIT - 1  # as OnnxGenerator.generate and ganzoo.generate_images accept
_PARAMETERS = ("n", "seed", "label", "nrow")


class QueryError(ValueError):
    """A bad query parameter; `parameter` names it."""

    def __init__(self, parameter, message):
        super().__init__(message)
        self.parameter = parameter


def _integer(query, name, default, low, high):
    values = query.getlist(name)
    if not values:
        return default
    if len(values) > 1:
        raise QueryError(name, f"Expected {name} once. Received: {len(values)} values {values!r}")
    text = values[0].strip()
    if not _INTEGER.fullmatch(text):
        raise QueryError(name, f"Expected {name} to be an integer in [{low}, {high}]. Received: {name}={values[0]!r}")
    value = int(text)
    if not low <= value <= high:
        raise QueryError(name, f"Expected {name} to be an integer in [{low}, {high}]. Received: {name}={value}")
    return value


def _labels(query, num_classes, n, max_n):
    """The `n` int32 labels of a query: its `label` ids cycled, by default 0, 1, ..., num_classes - 1 cycled."""
    given = query.getlist("label")
    if len(given) > 1:
        raise QueryError("label", f"Expected label once (use commas for several). Received: {given!r}")
    if given and num_classes is None:
        raise QueryError("label", f"Expected no label for an unconditional generator. Received: label={given[0]!r}")
    if num_classes is None:
        return None
    if not given:
        return labels_lib.cycled_labels(n, num_classes)
    parts = given[0].split(",")
    if len(parts) > max_n:
        raise QueryError(
            "label", f"Expected at most max_n={max_n} comma-separated class ids in label. Received: {len(parts)} ids"
        )
    if not all(_CLASS_ID.fullmatch(p.strip()) for p in parts):
        raise QueryError(
            "label",
            f"Expected label to be a class id in [0, {num_classes}) or comma-separated ids. "
            f"Received: label={given[0][:100]!r}",
        )
    ids = [int(p) for p in parts]
    if labels_lib.out_of_range(ids, num_classes):
        raise QueryError("label", f"Expected class ids in [0, {num_classes}). Received: label={given[0][:100]!r}")
    return labels_lib.cycle(ids, n)


def parse_query(query, num_classes, max_n=MAX_N, image_shape=None, max_pixels=MAX_PIXELS):
    """Returns `(n, seed, labels, nrow)` for a `/generate` query, or raises `QueryError`.

    Args:
        query: a Starlette `QueryParams` (a multi-dict of strings).
        num_classes: the generator's class count, or None.
        max_n: the largest `n` served.
        image_shape: the generator's `(H, W, C)`; with it, `n * H * W * C`
            must not exceed `max_pixels`.
        max_pixels: the pixel budget of one request.
    """
    unknown = sorted(set(query.keys()) - set(_PARAMETERS))
    if unknown:
        raise QueryError(unknown[0], f"Expected only the parameters {list(_PARAMETERS)}. Received: {unknown[0]!r}")
    per_image = math.prod(image_shape) if image_shape is not None else 1
    budget_n = max_pixels // per_image if image_shape is not None else max_n
    n = _integer(query, "n", min(16, budget_n), 1, max_n)
    if n > budget_n:
        shape = "x".join(map(str, image_shape))
        raise QueryError(
            "n",
            f"Expected n <= {budget_n}: n images of {shape} must fit the budget of max_pixels={max_pixels} pixels "
            f"per request. Received: n={n} ({n * per_image} pixels)",
        )
    seed = _integer(query, "seed", 0, 0, MAX_SEED)
    nrow = _integer(query, "nrow", None, 1, max_n)
    labels = _labels(query, num_classes, n, max_n)
    if num_classes is not None and nrow is None and not query.getlist("label"):
        nrow = num_classes  # one class per column
    return n, seed, labels, nrow


def render_png(generator, n, seed, labels=None, nrow=None):
    """The PNG bytes of `/generate`: `generator.generate(n, labels, seed)` tiled by `grid_array`."""
    from PIL import Image

    pixels = generator.generate(n, labels=labels, seed=seed)
    grid = grid_array(pixels, nrow=nrow or math.ceil(math.sqrt(n)))
    buffer = io.BytesIO()
    Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(buffer, format="PNG")
    return buffer.getvalue()


def _error(status, message, parameter=None):
    return JSONResponse({"error": message, "parameter": parameter}, status_code=status)


def _call_soon(loop, callback):
    with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is left to wait
        loop.call_soon_threadsafe(callback)


def _positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"Expected {name} to be a positive int. Received: {name}={value!r}")


def create_app(
    generator,
    *,
    max_n=MAX_N,
    max_pixels=MAX_PIXELS,
    max_in_flight=MAX_IN_FLIGHT,
    queue_timeout=QUEUE_TIMEOUT,
    name=None,
):
    """Returns the Starlette app serving `generator` (an `OnnxGenerator`).

    Args:
        generator: the `ganzoo.export.OnnxGenerator` to serve.
        max_n: the largest `n` one request may ask for.
        max_pixels: the pixel budget of one request, `n * H * W * C`.
        max_in_flight: requests whose images are made at once, each on a
            thread of the app's own pool.
        queue_timeout: seconds a request waits for one of them before it
            gets a 503 with `Retry-After` (0: no wait).
        name: a name for `/metadata` (default the preset in the metadata).
    """
    _positive_int("max_n", max_n)
    _positive_int("max_pixels", max_pixels)
    _positive_int("max_in_flight", max_in_flight)
    per_image = math.prod(generator.image_shape)
    if max_pixels < per_image:
        raise ValueError(
            f"Expected max_pixels >= {per_image}, one {'x'.join(map(str, generator.image_shape))} image. "
            f"Received: max_pixels={max_pixels}"
        )
    if isinstance(queue_timeout, bool) or not isinstance(queue_timeout, (int, float)) or not 0 <= queue_timeout <= 60:
        raise ValueError(f"Expected queue_timeout to be a number of seconds in [0, 60]. Received: {queue_timeout!r}")
    model_hash = sha256_file(generator.path)
    limits = {
        "max_n": max_n,
        "max_pixels": max_pixels,
        "max_n_by_pixels": min(max_n, max_pixels // per_image),
        "max_in_flight": max_in_flight,
        "queue_timeout_s": queue_timeout,
        "max_seed": MAX_SEED,
    }
    description = {
        "name": name or generator.metadata.get("preset"),
        "sha256": model_hash,
        "metadata": generator.metadata,
        "limits": limits,
        "routes": {
            "/generate": "PNG grid; query n (1..max_n_by_pixels, default 16), seed (default 0), label (class id or "
            "ids '0,1,2', conditional only), nrow",
            "/metadata": "this JSON",
            "/healthz": "ok",
        },
    }
    executor = concurrent.futures.ThreadPoolExecutor(max_in_flight, thread_name_prefix="ganzoo-generate")
    slots = asyncio.Semaphore(max_in_flight)  # one per executor thread: a request holding one never queues

    async def take_slot():
        if not slots.locked():
            await slots.acquire()  # returns at once
            return True
        if queue_timeout == 0:
            return False
        try:
            await asyncio.wait_for(slots.acquire(), queue_timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def generate(request):
        try:  # on the event loop: a bad query is answered at once, not queued behind image work
            n, seed, labels, nrow = parse_query(
                request.query_params, generator.num_classes, max_n, generator.image_shape, max_pixels
            )
        except QueryError as error:
            return _error(400, str(error), error.parameter)
        # The same model and query give the same bytes: the ETag names both, so caches revalidate after a restart
        # with another model instead of serving its images.
        query = f"{n}|{seed}|{None if labels is None else ','.join(map(str, labels))}|{nrow}"
        etag = '"' + hashlib.sha256(f"{model_hash}|{query}".encode()).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers=headers)
        if not await take_slot():
            response = _error(
                503,
                f"Expected at most max_in_flight={max_in_flight} requests at once; all were busy for "
                f"{queue_timeout} s. Received: one more (retry after {RETRY_AFTER} s)",
            )
            response.headers["Retry-After"] = str(RETRY_AFTER)
            return response
        loop = asyncio.get_running_loop()
        job = executor.submit(render_png, generator, n, seed, labels, nrow)
        # The slot is the thread's: it is freed when the images are made, even if this request was cancelled.
        job.add_done_callback(lambda _: _call_soon(loop, slots.release))
        body = await asyncio.wrap_future(job)
        return Response(body, media_type="image/png", headers=headers)

    def metadata(request):
        return JSONResponse(description)

    def healthz(request):
        return PlainTextResponse("ok")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        executor.shutdown(wait=False, cancel_futures=True)

    routes = [
        Route("/generate", generate, methods=["GET"]),
        Route("/metadata", metadata, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/", metadata, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
