"""Choosing a dtype policy that is fast on the device at hand (`--precision auto`).

bfloat16 is fast where the hardware has bf16 arithmetic: NVIDIA GPUs from
Ampere on (compute capability 8.0), TPUs, and CPUs with AVX512-BF16 or AMX
(recent Intel Xeon, AMD Zen 4). Elsewhere it is emulated: on an AVX2-only
AMD EPYC a `mixed_bfloat16` GAN step ran about 7x slower than float32. float16
with loss scaling is the fast choice on older NVIDIA GPUs (Volta, Turing).
"""

import os
import warnings

from ganzoo.backends import driver

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The CPU feature flags of the first processor listed, or None where they cannot be read."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return set(value.split())
    except OSError:
        return None
    return None


def cpu_has_bf16(flags=None):
    """True if the CPU has native bf16 arithmetic, False if not, None if unknown."""
    flags = cpu_flags() if flags is None else flags
    if flags is None:
        return None
    return any(flag in flags for flag in CPU_BF16_FLAGS)


def accelerator():
    """`(kind, compute_capability)` of the first accelerator the Keras backend sees, or None.

    `kind` is "gpu" or "tpu"; `compute_capability` a float such as 8.0 for
    NVIDIA GPUs, else None. The probe is the backend driver's
    (`ganzoo.backends`).
    """
    try:
        return driver.accelerator()
    except Exception:  # a broken driver must not stop training in float32
        return None


def auto_precision(device=None, flags=None):
    """The policy `--precision auto` picks: bf16 where it is native, float16 on older NVIDIA GPUs, else float32.

    Args:
        device: `accelerator()`'s result (found when not given).
        flags: CPU flags (read from /proc/cpuinfo when not given).
    """
    device = accelerator() if device is None else device
    if device:
        kind, capability = device
        if kind == "tpu" or (capability is not None and capability >= 8.0):
            return "mixed_bfloat16"
        if capability is not None and capability >= 7.0:
            return "mixed_float16"
        return "float32"
    return "mixed_bfloat16" if cpu_has_bf16(flags) else "float32"


def resolve_precision(precision, device=None, flags=None):
    """Returns the policy name for `precision` ("auto" or a name); warns about emulated bf16.

    Raises:
        ValueError: an unknown precision.
    """
    if precision == "auto":
        return auto_precision(device, flags)
    if precision not in PRECISIONS:
        raise ValueError(f"Expected precision to be 'auto' or one of {PRECISIONS}. Received: precision={precision!r}")
    if precision == "mixed_bfloat16" and not os.environ.get("GANZOO_NO_BF16_WARNING"):
        device = accelerator() if device is None else device
        if not device and cpu_has_bf16(flags) is False:
            warnings.warn(
                "mixed_bfloat16 on a CPU without bf16 arithmetic (no avx512_bf16 or amx_bf16 flag): bf16 is "
                "emulated there and a GAN step measured about 7x slower than float32 on an AVX2-only AMD EPYC. "
                "Use --precision auto (float32 on this CPU) or float32.",
                RuntimeWarning,
                stacklevel=2,
            )
    return precision
