"""Quality figures of a generator against a dataset's test split.

`evaluate_generator` generates `n` samples, embeds them and the real test
images with the dataset's domain classifier, and computes the Fréchet
distance (FD), KID, k-NN precision/recall and, for conditional generators,
label accuracy (the class-histogram entropy for unconditional ones).
`real_baseline` computes the same figures between the train and test
splits, so every number has a scale.

`inception_evaluation` gives the standard FID instead (the FID Inception
network, protocol `ganzoo.metrics.inception.PROTOCOL`), with its own
train-vs-test baseline; it needs the `fid` extra.
"""

import numpy as np

from ganzoo import data, metrics
from ganzoo.models.describe import describe_generator
from ganzoo.training.sampling import generate_images

DEFAULT_SAMPLES = 10_000


def _figures(real_features, fake_features, fake_probabilities, num_classes, requested_labels, seed):
    """The metric table for one fake set against one real set."""
    precision, recall = metrics.precision_recall(real_features, fake_features, k=3)
    subset = min(1000, len(real_features), len(fake_features))
    kid_mean, kid_std = metrics.kernel_inception_distance(
        real_features, fake_features, num_subsets=100, subset_size=subset, seed=seed
    )
    predicted = np.argmax(fake_probabilities, axis=1)
    figures = {
        "fd": float(metrics.frechet_distance(real_features, fake_features)),
        "kid": float(kid_mean),
        "kid_std": float(kid_std),
        "precision": float(precision),
        "recall": float(recall),
        "class_entropy": float(metrics.class_histogram_entropy(predicted, num_classes)),
    }
    if requested_labels is not None:
        figures["label_accuracy"] = float(metrics.label_accuracy(fake_probabilities, requested_labels))
    return figures


def real_test_features(dataset, extractor, verbose=True):
    """Embeds `dataset`'s test split; pass the result to both evaluations to embed it once."""
    images, _ = data.load_arrays(dataset, split="test")
    features, _ = extractor(images, verbose=verbose)
    return features


def _check_generator(generator, dataset):
    spec = describe_generator(generator)
    expected_shape = data.image_shape(dataset)
    if spec["image_shape"] != tuple(expected_shape):
        raise ValueError(
            f"Expected a generator of {dataset!r} images {tuple(expected_shape)}. "
            f"Received: a generator of shape {spec['image_shape']}"
        )
    return spec


def _check_n(n):
    if not isinstance(n, int) or isinstance(n, bool) or n < 10:
        raise ValueError(f"Expected n to be an int >= 10. Received: n={n!r}")


def evaluate_generator(
    generator, dataset, *, n=DEFAULT_SAMPLES, seed=0, verbose=True, extractor=None, real_features=None
):
    """Measures a generator against `dataset`'s test split.

    Conditional generators are asked for a balanced set of labels
    (`i % num_classes`); their `label_accuracy` is the share of samples the
    domain classifier assigns to the requested class.

    Args:
        generator: a ganzoo generator (see `describe_generator`).
        dataset: a dataset with a shipped domain classifier, e.g.
            `"digits"` or `"fashion_mnist"`.
        n: number of generated samples.
        seed: seed of the noise and of the KID subsets.
        verbose: show progress bars while generating and embedding.
        extractor: a `ganzoo.metrics.FeatureExtractor`; defaults to the
            dataset's domain classifier.
        real_features: the test split's features from `real_test_features`
            with the same extractor; computed when None.

    Returns:
        A dict: `fd`, `kid`, `kid_std`, `precision`, `recall`,
        `class_entropy` (normalised, 1 = uniform) and, for conditional
        generators, `label_accuracy`; plus `n_fake`, `n_real`, `seed`.

    Example:
        >>> evaluate_generator(ganzoo.load_generator("dcgan_digits"), "digits", n=2000)
    """
    _check_n(n)
    spec = _check_generator(generator, dataset)
    extractor = extractor or metrics.classifier_feature_extractor(dataset)
    if real_features is None:
        real_features = real_test_features(dataset, extractor, verbose)

    num_classes = len(data.class_names(dataset))
    labels = None if spec["num_classes"] is None else (np.arange(n) % spec["num_classes"]).astype("int32")
    if verbose:
        print(f"Generating {n} samples")
    images = generate_images(generator, n, labels=labels, seed=seed)
    fake_features, fake_probabilities = extractor(images, verbose=verbose)
    figures = _figures(real_features, fake_features, fake_probabilities, num_classes, labels, seed)
    return {**figures, "n_fake": n, "n_real": int(len(real_features)), "seed": seed}


def real_baseline(dataset, *, n=DEFAULT_SAMPLES, seed=0, verbose=True, extractor=None, real_features=None):
    """The same figures with `n` real train images in place of generated ones.

    `label_accuracy` here is the classifier's accuracy on those train images
    (their true labels requested), the ceiling a conditional generator can
    reach.
    """
    extractor = extractor or metrics.classifier_feature_extractor(dataset)
    if real_features is None:
        real_features = real_test_features(dataset, extractor, verbose)
    images, labels = data.load_arrays(dataset, split="train")
    pick = np.random.default_rng(seed).permutation(len(images))[:n]
    features, probabilities = extractor(images[pick], verbose=verbose)
    num_classes = len(data.class_names(dataset))
    figures = _figures(real_features, features, probabilities, num_classes, labels[pick], seed)
    return {**figures, "n_fake": int(len(pick)), "n_real": int(len(real_features)), "seed": seed}


def inception_evaluation(generator, dataset, *, n=DEFAULT_SAMPLES, seed=0, verbose=True, baseline=True, extractor=None):
    """The standard FID of a generator against `dataset`'s test split, and the real-data baseline.

    Protocol `ganzoo.metrics.inception.PROTOCOL` (Lucic et al. 2018's):
    `n` generated samples (conditional generators get balanced labels)
    against the whole test split; the baseline is `n` train images, drawn
    as `real_baseline` draws them, against the same test statistics. Real
    statistics are cached (`ganzoo.metrics.inception.reference_statistics`).

    Args:
        generator: a ganzoo generator of `dataset`'s image shape.
        dataset: e.g. `"fashion_mnist"`.
        n: generated samples (and baseline train images).
        seed: seed of the noise and of the baseline's train subset.
        verbose: show progress while generating and embedding.
        baseline: also compute the train-vs-test FID.
        extractor: an `InceptionFeatureExtractor`; built when None.

    Returns:
        `(figures, baseline_figures)`: dicts with `fid`, `n_fake`, `n_real`,
        `seed`, `reference`, `protocol` (`baseline_figures` is None with
        `baseline=False`).

    Raises:
        MissingDependency: the `fid` extra is not installed.
    """
    from ganzoo.metrics import inception

    _check_n(n)
    spec = _check_generator(generator, dataset)
    extractor = extractor or inception.InceptionFeatureExtractor()
    real, _ = data.load_arrays(dataset, split="test")
    reference = inception.reference_statistics(real, name=f"{dataset}-test", extractor=extractor, verbose=verbose)
    common = {
        "n_real": int(len(real)),
        "seed": seed,
        "reference": f"{dataset} test split ({len(real)} images)",
        "protocol": inception.PROTOCOL,
    }
    labels = None if spec["num_classes"] is None else (np.arange(n) % spec["num_classes"]).astype("int32")
    if verbose:
        print(f"Generating {n} samples")
    images = generate_images(generator, n, labels=labels, seed=seed)
    figures = {
        "fid": inception.fid_against(reference, images, extractor=extractor, verbose=verbose),
        "n_fake": n,
        **common,
    }
    if not baseline:
        return figures, None
    train, _ = data.load_arrays(dataset, split="train")
    pick = np.random.default_rng(seed).permutation(len(train))[:n]
    train_stats = inception.reference_statistics(
        train[pick], name=f"{dataset}-train", extractor=extractor, verbose=verbose
    )
    fid = metrics.frechet_distance_from_statistics(*reference, *train_stats)
    return figures, {"fid": float(fid), "n_fake": int(len(pick)), **common}


def format_table(rows):
    """Formats `{row_name: figures}` as a Markdown table."""
    keys = ["fid", "fd", "kid", "precision", "recall", "label_accuracy", "class_entropy"]
    keys = [k for k in keys if any(k in figures for figures in rows.values())]
    lines = ["| | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    for name, figures in rows.items():
        cells = [f"{figures[k]:.4f}" if k in figures else "" for k in keys]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
