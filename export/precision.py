"""A float32 copy of a generator, whatever dtype policy it was built under.

A generator trained under `mixed_float16` or `mixed_bfloat16` computes in
half precision, and its layer configs name that policy. Export needs
float32 compute (PITFALLS: export needs a float32 model), so the exporter
always rebuilds the generator from its config under the float32 policy and
copies the weights.
"""

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
        if key == "dtype" and isinstance(value, str) and value in _LOW_PRECISION:
            value = "float32"
        elif key == "dtype" and isinstance(value, dict) and value.get("class_name") in _POLICY_CLASSES:
            if value.get("config", {}).get("name") in _LOW_PRECISION:
                value = {**value, "config": {**value["config"], "name": "float32"}}
        result[key] = _to_float32(value)
    return result


def float32_copy(generator):
    """Rebuilds `generator` from its config under the float32 policy and copies its weights.

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
    config = _to_float32(keras.saving.serialize_keras_object(generator))
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        copy = keras.saving.deserialize_keras_object(config)
    finally:
        keras.config.set_dtype_policy(previous)
    copy.set_weights(
        [w.astype("float32") if np.issubdtype(w.dtype, np.floating) else w for w in generator.get_weights()]
    )
    return copy
