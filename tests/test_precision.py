"""`--precision auto` and the emulated-bf16 warning, against known devices and CPU flag sets."""

import warnings

import pytest

from ganzoo.training import mixed_precision as precision

EPYC_AVX2 = {"fpu", "sse2", "avx", "avx2", "fma"}
ZEN4 = EPYC_AVX2 | {"avx512f", "avx512_bf16"}
SAPPHIRE_RAPIDS = EPYC_AVX2 | {"avx512f", "amx_bf16", "amx_tile"}


@pytest.mark.parametrize(
    "device, flags, expected",
    [
        (None, EPYC_AVX2, "float32"),
        (None, ZEN4, "mixed_bfloat16"),
        (None, SAPPHIRE_RAPIDS, "mixed_bfloat16"),
        (None, set(), "float32"),
        (("gpu", 9.0), EPYC_AVX2, "mixed_bfloat16"),  # H100/H200
        (("gpu", 8.0), EPYC_AVX2, "mixed_bfloat16"),  # A100
        (("gpu", 7.5), ZEN4, "mixed_float16"),  # T4
        (("gpu", 7.0), ZEN4, "mixed_float16"),  # V100
        (("gpu", 6.1), ZEN4, "float32"),  # P40
        (("tpu", None), EPYC_AVX2, "mixed_bfloat16"),
    ],
)
def test_auto_picks_what_is_native(device, flags, expected):
    assert precision.auto_precision(device=device if device else (), flags=flags) == expected


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512_bf16\n\nprocessor\t: 1\n")
    assert precision.cpu_flags(str(cpuinfo)) == {"fpu", "avx2", "avx512_bf16"}
    assert precision.cpu_flags(str(tmp_path / "missing")) is None
    assert precision.cpu_has_bf16(set()) is False


def test_bf16_on_a_cpu_without_bf16_warns_with_the_reason():
    with pytest.warns(RuntimeWarning, match="emulated"):
        assert precision.resolve_precision("mixed_bfloat16", device=(), flags=EPYC_AVX2) == "mixed_bfloat16"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        precision.resolve_precision("mixed_bfloat16", device=(), flags=ZEN4)
        precision.resolve_precision("mixed_bfloat16", device=("gpu", 8.0), flags=EPYC_AVX2)


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision"):
        precision.resolve_precision("bf16")
