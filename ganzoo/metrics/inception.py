"""The standard Inception FID: its protocol, preprocessing, features and cached reference statistics.

Protocol `ganzoo-fid-v1` (that of Lucic et al. 2018, "Are GANs Created
Equal?", whose `compare_gan` code computed FID with TF-GAN):

1. Images in [-1, 1] (generator output, or 8-bit pixels `x / 127.5 - 1`)
   go to the pixel scale `p = (x + 1) * 127.5` in [0, 255], kept in float
   (not rounded to 8 bits; compare_gan fed `sigmoid * 255` floats too).
2. Resized to 299x299 bilinearly with TensorFlow 1's `resize_bilinear`
   (`align_corners=False`, no half-pixel centres: output pixel `i` samples
   input `i * in / out`, edge-clamped), the resize of TF-GAN's
   `preprocess_image` and of the StyleGAN3 FID network. It is linear, so it
   runs as two small matrix products per image (`resize_matrix`).
3. Scaled as the network expects, `(p - 128) / 128`, into [-1, 0.9921875];
   a grey channel is replicated to RGB.
4. The FID Inception-v3 (the TensorFlow `inception-2015-12-05` graph's
   weights, `pool_3`, 2048-d; see `ganzoo.metrics.inception_network`),
   run in float32 by onnxruntime.
5. FID between 10,000 generated samples and the 10,000 test images, from
   float64 means and covariances (`ganzoo.metrics.frechet_distance`).

The one difference from Lucic et al.: the network runs as a float32 port
(TorchScript, exported to ONNX) rather than TensorFlow's frozen graph. The
real statistics are computed once per image set and cached in
`<ganzoo cache>/inception/statistics/`, keyed by the images' sha256, the
protocol version and the network's sha256.
"""

import hashlib
import io
import warnings

import numpy as np

from ganzoo.client import hub
from ganzoo.metrics import inception_network as network

PROTOCOL = "ganzoo-fid-v1"
PROTOCOL_VERSION = 1
INCEPTION_SIZE = 299
FEATURE_DIM = 2048
DEFAULT_BATCH_SIZE = 64
_RANGE_TOLERANCE = 1e-3  # as FeatureExtractor: float rounding past [-1, 1]; beyond it a scaling mistake


def resize_matrix(in_size, out_size=INCEPTION_SIZE):
    """The `(out_size, in_size)` matrix of TensorFlow 1's `resize_bilinear` along one axis.

    `align_corners=False`, `half_pixel_centers=False`: output `i` samples
    input position `i * in_size / out_size`, the upper neighbour clamped to
    the edge. Rows sum to 1. An image resizes as `R_h @ image @ R_w.T`.

    Example:
    >>> resize_matrix(2, 4)
    array([[1. , 0. ],
           [0.5, 0.5],
           [0. , 1. ],
           [0. , 1. ]], dtype=float32)
    """
    source = np.arange(out_size, dtype=np.float64) * (in_size / out_size)
    low = np.floor(source).astype(np.int64)
    high = np.minimum(low + 1, in_size - 1)
    fraction = source - low
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, low), 1.0 - fraction)
    np.add.at(matrix, (rows, high), fraction)
    return matrix.astype(np.float32)


def check_images(images):
    """Returns `images` as float32 `(n, height, width, 1 or 3)` clipped to [-1, 1], or raises ValueError."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[0] == 0 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"Expected images of shape (num_images, height, width, 1 or 3). Received: images.shape={images.shape}"
        )
    low, high = float(np.min(images)), float(np.max(images))
    if not (np.isfinite(low) and np.isfinite(high)) or low < -1 - _RANGE_TOLERANCE or high > 1 + _RANGE_TOLERANCE:
        raise ValueError(f"Expected images scaled to [-1, 1]. Received: images with min={low:.4g}, max={high:.4g}")
    return np.clip(images, -1.0, 1.0)


def inception_preprocess(images):
    """Steps 1-3 of the protocol: images in [-1, 1] to the network's input.

    Args:
        images: array of shape `(batch, height, width, 1 or 3)` in [-1, 1].

    Returns:
        A float32 array `(batch, 3, 299, 299)` in [-1, 0.9921875].

    Raises:
        ValueError: not 1 or 3 channels, or values outside [-1, 1].
    """
    images = check_images(images)
    # (p - 128) / 128 with p = (x + 1) * 127.5, applied before the resize: its rows sum to 1.
    scaled = images * np.float32(127.5 / 128.0) - np.float32(0.5 / 128.0)
    rows, cols = resize_matrix(images.shape[1]), resize_matrix(images.shape[2])
    batch = np.empty((len(images), 3, INCEPTION_SIZE, INCEPTION_SIZE), dtype=np.float32)
    for channel in range(images.shape[-1]):
        batch[:, channel] = rows @ scaled[..., channel] @ cols.T  # (n, 299, h) @ (w, 299)
    if images.shape[-1] == 1:
        batch[:, 1] = batch[:, 0]
        batch[:, 2] = batch[:, 0]
    return batch


class InceptionFeatureExtractor:
    """Embeds images in [-1, 1] into the FID Inception's 2048-d `pool_3` features, batch by batch.

    Called like `ganzoo.metrics.FeatureExtractor`: `extractor(images)`
    returns `(features, None)`, since the FID network has no classifier head.

    Args:
        batch_size: images per onnxruntime run (64 is fastest on CPUs).
        threads: onnxruntime intra-op threads; default all CPUs allowed.

    Raises:
        MissingDependency: the `fid` extra is not installed (pip install
            'keras-ganzoo[fid]').

    Example:
    >>> extractor = InceptionFeatureExtractor()
    >>> features, _ = extractor(images)  # (n, 2048)
    """

    def __init__(self, *, batch_size=DEFAULT_BATCH_SIZE, threads=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"Expected `batch_size` to be a positive int. Received: batch_size={batch_size!r}")
        self.batch_size = batch_size
        self.threads = threads
        self.session = network.inference_session(threads=threads)

    def __call__(self, images, *, verbose=False):
        """Returns `(features, None)`: float32 features of shape `(num_images, 2048)`."""
        images = check_images(images)
        progbar = None
        if verbose:
            from keras.utils import Progbar

            progbar = Progbar(len(images), unit_name="image")
        features = np.empty((len(images), FEATURE_DIM), dtype=np.float32)
        for start in range(0, len(images), self.batch_size):
            batch = inception_preprocess(images[start : start + self.batch_size])
            features[start : start + len(batch)] = self.session.run(None, {network.INPUT_NAME: batch})[0]
            if progbar is not None:
                progbar.update(start + len(batch))
        return features, None


def inception_feature_extractor(*, batch_size=DEFAULT_BATCH_SIZE, threads=None):
    """Returns an `InceptionFeatureExtractor` (exports and caches the ONNX network on first use)."""
    return InceptionFeatureExtractor(batch_size=batch_size, threads=threads)


def statistics_path(images, name):
    """The cache file of `images`' statistics: named after `name`, keyed by content, protocol and network."""
    digest = hashlib.sha256(np.ascontiguousarray(images, dtype=np.float32).tobytes()).hexdigest()
    file = f"{name}-{len(images)}-{digest[:16]}-p{PROTOCOL_VERSION}-{network.NETWORK_SHA256[:12]}.npz"
    return hub.cache_dir() / "inception" / "statistics" / file


def _load_statistics(path):
    if not network.verified(path):
        return None
    with np.load(path) as stored:
        mu, sigma = stored["mu"], stored["sigma"]
    if mu.shape != (FEATURE_DIM,) or sigma.shape != (FEATURE_DIM, FEATURE_DIM):
        return None
    return mu, sigma


def reference_statistics(images, *, name="images", extractor=None, verbose=False):
    """The float64 `(mu, sigma)` of a real image set's Inception features, computed once and cached.

    A cached file that fails its sha256 check is recomputed (with a
    `RuntimeWarning`).

    Args:
        images: the real images, `(n, height, width, 1 or 3)` in [-1, 1].
        name: a readable prefix of the cache file, e.g. `"fashion_mnist-test"`.
        extractor: an `InceptionFeatureExtractor`; built when needed.
        verbose: show a progress bar while embedding.

    Returns:
        `(mu, sigma)`: float64 arrays `(2048,)` and `(2048, 2048)`.
    """
    from ganzoo.metrics.frechet import feature_statistics

    images = check_images(images)
    path = statistics_path(images, name)
    cached = _load_statistics(path)
    if cached is not None:
        return cached
    if path.exists():
        warnings.warn(f"{path} does not match its recorded sha256: computing it again.", RuntimeWarning, stacklevel=2)
    extractor = extractor or InceptionFeatureExtractor()
    mu, sigma = feature_statistics(extractor(images, verbose=verbose)[0])
    buffer = io.BytesIO()
    np.savez(buffer, mu=mu, sigma=sigma)
    network.write_verified(path, buffer.getvalue(), {"protocol": PROTOCOL, "network_sha256": network.NETWORK_SHA256})
    return mu, sigma


def fid_against(reference, fake_images, *, extractor=None, verbose=False):
    """The FID of `fake_images` against reference statistics `(mu, sigma)`."""
    from ganzoo.metrics.frechet import feature_statistics
    from ganzoo.metrics.frechet import frechet_distance_from_statistics

    extractor = extractor or InceptionFeatureExtractor()
    features = extractor(fake_images, verbose=verbose)[0]
    return frechet_distance_from_statistics(*reference, *feature_statistics(features))
