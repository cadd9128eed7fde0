"""GAN evaluation metrics and the feature extractors they run on.

Metric math (`frechet_distance`, `kernel_inception_distance`,
`precision_recall`, `label_accuracy`, `class_histogram_entropy`) is
float64 NumPy/SciPy on feature arrays of shape `(num_samples,
feature_dim)` and imports no TensorFlow. Features come from the shipped
domain classifiers (`classifier_feature_extractor`, loads Keras lazily) or
the standard FID Inception network (`inception_feature_extractor`, the
`fid` extra, run in onnxruntime; see `ganzoo.metrics.inception` for the
protocol and `ganzoo.metrics.inception.reference_statistics` for cached real
statistics).

Example:

>>> from ganzoo import metrics
>>> extractor = metrics.classifier_feature_extractor("fashion_mnist")
>>> real_features, _ = extractor(real_images)
>>> fake_features, fake_probabilities = extractor(fake_images, verbose=True)
>>> metrics.frechet_distance(real_features, fake_features)
>>> metrics.precision_recall(real_features, fake_features, k=3)
>>> metrics.label_accuracy(fake_probabilities, requested_labels)
"""

import importlib

# public name -> module that defines it
_EXPORTS = {
    "feature_statistics": "ganzoo.metrics.frechet",
    "frechet_distance": "ganzoo.metrics.frechet",
    "frechet_distance_from_statistics": "ganzoo.metrics.frechet",
    "kernel_inception_distance": "ganzoo.metrics.kernel_distance",
    "precision_recall": "ganzoo.metrics.knn_precision_recall",
    "label_accuracy": "ganzoo.metrics.label_metrics",
    "class_histogram_entropy": "ganzoo.metrics.label_metrics",
    "CLASSIFIER_DATASETS": "ganzoo.metrics.classifiers",
    "build_classifier": "ganzoo.metrics.classifiers",
    "load_classifier": "ganzoo.metrics.classifiers",
    "classifier_record": "ganzoo.metrics.classifiers",
    "FeatureExtractor": "ganzoo.metrics.features",
    "classifier_feature_extractor": "ganzoo.metrics.features",
    "inception_feature_extractor": "ganzoo.metrics.inception",
    "InceptionFeatureExtractor": "ganzoo.metrics.inception",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'ganzoo.metrics' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
