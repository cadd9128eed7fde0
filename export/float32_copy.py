"""A float32 copy of a generator, whatever dtype policy it was built under.

A generator trained under `mixed_float16` or `mixed_bfloat16` computes in
half precision, and its layer configs name that policy. Export needs
float32 compute (PITFALLS: export needs a float32 model), so the exporter
always rebuilds the generator from a config in which every layer names the
float32 policy, and copies the weights. The process-wide dtype policy is
never changed (another thread may be training under it).
"""

import copy

import keras
import numpy as np

# Floating dtypes and policies replaced by "float32" in a copied config.
_LOW_PRECISION = ("float16", "bfloat16", "mixed_float16", "mixed_bfloat16")
_POLICY_CLASSES = ("DTypePolicy", "FloatDTypePolicy")


def _to_float32(config):
    """Returns a copy of a serialized config with every low-precision dtype set to float32."""
    if isinstance(config, list):
        return [_to_float32(item) for item in config]
    if not isinstance(config, dict):
        return config
    result = {}
    for key, value in config.items():
        if key == "dtype" and (value is None or (isinstance(value, str) and value in _LOW_PRECISION)):
            value = "float32"  # None would follow the global policy
        elif key == "dtype" and isinstance(value, dict) and value.get("class_name") in _POLICY_CLASSES:
            if value.get("config", {}).get("name") in _LOW_PRECISION:
                value = {**value, "config": {**value["config"], "name": "float32"}}
        result[key] = _to_float32(value)
    return result


def _fold_spectral_norm(config):
    """Returns a functional config with each `SpectralNorm(layer)` replaced by its inner layer, under the wrapper's name."""
    if isinstance(config, list):
        return [_fold_spectral_norm(item) for item in config]
    if not isinstance(config, dict):
        return config
    if config.get("class_name") == "SpectralNorm" and "inbound_nodes" in config:
        name = config["config"]["name"]
        inner = copy.deepcopy(config["config"]["layer"])
        inner["config"]["name"] = name
        return {**inner, "name": name, "inbound_nodes": config["inbound_nodes"]}
    return {key: _fold_spectral_norm(value) for key, value in config.items()}


def _float32(weights):
    return [w.astype("float32") if np.issubdtype(w.dtype, np.floating) else w for w in weights]


def float32_copy(generator):
    """Rebuilds `generator` with every layer in float32 and copies its weights; the global policy is untouched.

    A `ganzoo.models.SpectralNorm` layer is folded: the copy has its inner
    layer with the normalized kernel `W / sigma` (the value it computes with
    at inference), so the exported graph holds no power iteration.

    Args:
        generator: a built `keras.Model`, whatever its dtype policy.

    Returns:
        A new `keras.Model` whose every layer computes in float32, with the
        same weights (cast to float32).

    Raises:
        TypeError: if `generator` is not a keras.Model.

    Example:
        >>> keras.config.set_dtype_policy("mixed_float16")
        >>> g = dcgan_generator((28, 28, 1), 64)
        >>> keras.config.set_dtype_policy("float32")
        >>> float32_copy(g).layers[-2].compute_dtype
        'float32'
    """
    if not isinstance(generator, keras.Model):
        raise TypeError(f"Expected a keras.Model. Received: generator={generator!r}")
    from ganzoo.models import SpectralNorm

    config = _to_float32(keras.saving.serialize_keras_object(generator))
    wrapped = [layer for layer in generator.layers if isinstance(layer, SpectralNorm)]
    if not wrapped:
        result = keras.saving.deserialize_keras_object(config)
        result.set_weights(_float32(generator.get_weights()))
        return result
    result = keras.saving.deserialize_keras_object(_fold_spectral_norm(config))
    for layer in generator.layers:
        target = result.get_layer(layer.name)
        if isinstance(layer, SpectralNorm):
            kernel = keras.ops.convert_to_numpy(layer.normalized_kernel()[0])
            target.set_weights(_float32([kernel, *layer.layer.get_weights()[1:]]))
        else:
            target.set_weights(_float32(layer.get_weights()))
    return result
