"""What each network builder takes: its arguments' types and bounds, and the parameter count they give.

Each builder of `ganzoo.models` (`dcgan.py`, `resnet.py`) is declared here,
and only here: its family and role, which name it (`dcgan_generator` is the
function `ganzoo.models.dcgan.dcgan_generator`), its arguments, each with a
type, bounds and a default, and a pure function that counts the weights the
built network will hold (exactly its `count_params()`). The preset schema, `ganzoo.models.registry.build_network`
and the builders themselves check their arguments with `check_args`, so a
preset with `filters` 4096, `latent_dim` 10**7 or 8192-pixel images is
refused from its numbers alone, naming the key, before a single weight is
allocated. Pure Python: the zoo client reads it without Keras.
"""

import collections
import numbers

MAX_SIDE = 1024  # image height and width
MAX_CHANNELS = 4
MAX_LATENT_DIM = 4096
MAX_CLASSES = 10_000
MAX_FILTERS = 1024
# Weights per network, trainable and not: 400 MB in float32, about 1.6 GB while training with Adam (two slots and a
# gradient each); 30 times the largest network the papers behind the presets use (a 64x64 DCGAN generator, 3.6 M).
MAX_PARAMETERS = 100_000_000
NORMALIZATIONS = ("batch", "layer", None)
# Arguments a preset may not set: the precision is chosen when building, the name by the GAN.
RESERVED_ARGS = ("dtype", "name")
REQUIRED = "required"

# kind: "shape" (image_shape), "int" (in [low, high]), "classes" (None or an int in [low, high]), "bool",
# "normalization" (one of NORMALIZATIONS).
Arg = collections.namedtuple("Arg", ["kind", "default", "low", "high"])
# A builder is named `<family>_<role>`; `ganzoo.models.registry` finds it as that function in `ganzoo.models.<family>`.
Builder = collections.namedtuple("Builder", ["family", "role", "args", "count"])


def upsampling_plan(image_shape):
    """Returns `(start_height, start_width, stages)` for an `(height, width, channels)` of positive ints.

    The generator starts at `start` resolution and doubles it `stages`
    times; the discriminator halves it as often. Each side is halved while it
    stays even and at least 4: 16 -> 4 (2 stages), 28 -> 7 (2), 32 -> 4 (3),
    64 -> 4 (4).

    Raises:
        ValueError: if height and width need different stage counts, or the
            image cannot be halved at all.
    """

    def plan(size):
        stages = 0
        while size % 2 == 0 and size // 2 >= 4:
            size //= 2
            stages += 1
        return size, stages

    (h0, h_stages), (w0, w_stages) = plan(image_shape[0]), plan(image_shape[1])
    if h_stages != w_stages or h_stages == 0:
        raise ValueError(
            "Expected an image_shape whose height and width can both be halved the same "
            "number of times (at least once) down to a size >= 4, e.g. 16, 28, 32 or 64. "
            f"Received: image_shape={tuple(image_shape)!r}"
        )
    return h0, w0, h_stages


def _norm(normalization, height, width, channels):
    if normalization == "batch":  # gamma, beta, moving mean, moving variance
        return 4 * channels
    if normalization == "layer":  # gamma and beta over axes (1, 2, 3)
        return 2 * height * width * channels
    return 0


def _dcgan_generator_count(image_shape, latent_dim, num_classes, filters):
    h0, w0, stages = upsampling_plan(image_shape)
    width = filters * 2 ** (stages - 1)
    units = h0 * w0 * width
    count = (latent_dim + (num_classes or 0)) * units + 4 * units  # project (no bias), project_bn
    for _ in range(stages - 1):  # 4x4 transposed convolutions without bias, each with batch norm
        count += 16 * width * (width // 2) + 4 * (width // 2)
        width //= 2
    return count + 16 * width * image_shape[2] + image_shape[2]  # to_image, with bias


def _dcgan_discriminator_count(image_shape, num_classes, filters, normalization, spectral_norm):
    height, width, channels = image_shape
    _, _, stages = upsampling_plan(image_shape)
    channels += num_classes or 0  # one label channel per class
    count = 0
    for i in range(stages):  # 4x4 stride-2 convolutions with bias (and SpectralNorm's vector u)
        units = filters * 2**i
        height, width = height // 2, width // 2
        count += 16 * channels * units + units + (units if spectral_norm else 0)
        count += _norm(normalization, height, width, units) if i > 0 else 0
        channels = units
    return count + height * width * channels + 1 + (1 if spectral_norm else 0)  # flatten, logit


def _resnet_generator_count(image_shape, latent_dim, num_classes, filters):
    h0, w0, stages = upsampling_plan(image_shape)
    f, units = filters, h0 * w0 * filters
    block = (f * f + f) + 4 * f + (9 * f * f + f) + 4 * f + (9 * f * f + f)  # 1x1 skip, bn, conv, bn, conv
    count = (latent_dim + (num_classes or 0)) * units + units  # project, with bias
    return count + stages * block + 4 * f + 9 * f * image_shape[2] + image_shape[2]  # out_bn, to_image


def _resnet_discriminator_count(image_shape, num_classes, filters, normalization, spectral_norm):
    height, width, channels = image_shape
    _, _, stages = upsampling_plan(image_shape)
    channels += num_classes or 0

    def conv(size, fan_in):
        return size * size * fan_in * filters + filters + (filters if spectral_norm else 0)

    count = 0
    for i in range(stages + 1):  # `stages` downsampling blocks, then one at the same size
        count += conv(3, channels) + conv(3, filters) + 2 * _norm(normalization, height, width, filters)
        if i < stages:  # a 1x1 shortcut where the block resamples; the last one's shortcut is the identity
            count += conv(1, channels)
            height, width = height // 2, width // 2
        channels = filters
    return count + filters + 1 + (1 if spectral_norm else 0)  # logit


_SHAPE = Arg("shape", REQUIRED, 1, MAX_SIDE)
_LATENT = Arg("int", REQUIRED, 1, MAX_LATENT_DIM)
_CLASSES = Arg("classes", None, 2, MAX_CLASSES)
_SN = Arg("bool", False, None, None)


def _filters(default):
    return Arg("int", default, 1, MAX_FILTERS)


_DECLARED = (
    Builder(
        "dcgan",
        "generator",
        {"image_shape": _SHAPE, "latent_dim": _LATENT, "num_classes": _CLASSES, "filters": _filters(64)},
        _dcgan_generator_count,
    ),
    Builder(
        "dcgan",
        "discriminator",
        {
            "image_shape": _SHAPE,
            "num_classes": _CLASSES,
            "filters": _filters(64),
            "normalization": Arg("normalization", "batch", None, None),
            "spectral_norm": _SN,
        },
        _dcgan_discriminator_count,
    ),
    Builder(
        "resnet",
        "generator",
        {"image_shape": _SHAPE, "latent_dim": _LATENT, "num_classes": _CLASSES, "filters": _filters(128)},
        _resnet_generator_count,
    ),
    Builder(
        "resnet",
        "discriminator",
        {
            "image_shape": _SHAPE,
            "num_classes": _CLASSES,
            "filters": _filters(128),
            "normalization": Arg("normalization", None, None, None),
            "spectral_norm": _SN,
        },
        _resnet_discriminator_count,
    ),
)
BUILDERS = {f"{builder.family}_{builder.role}": builder for builder in _DECLARED}
GENERATOR_BUILDERS = tuple(name for name, builder in BUILDERS.items() if builder.role == "generator")
DISCRIMINATOR_BUILDERS = tuple(name for name, builder in BUILDERS.items() if builder.role == "discriminator")


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_value(spec, value):
    """Returns `value` normalized (ints as int, the shape a tuple), or None with the rule it breaks."""
    if spec.kind == "shape":
        ok = isinstance(value, (list, tuple)) and len(value) == 3 and all(_is_int(d) for d in value)
        ok = ok and all(1 <= d <= MAX_SIDE for d in value[:2]) and 1 <= value[2] <= MAX_CHANNELS
        rule = f"to be [height, width, channels] with sides in [1, {MAX_SIDE}] and channels in [1, {MAX_CHANNELS}]"
        return (tuple(int(d) for d in value), None) if ok else (None, rule)
    if spec.kind in ("int", "classes"):
        if spec.kind == "classes" and value is None:
            return None, None
        ok = _is_int(value) and spec.low <= value <= spec.high
        rule = f"to be {'null or ' if spec.kind == 'classes' else ''}an int in [{spec.low}, {spec.high}]"
        return (int(value), None) if ok else (None, rule)
    if spec.kind == "bool":
        return (value, None) if isinstance(value, bool) else (None, "to be true or false")
    ok = value is None or (isinstance(value, str) and value in NORMALIZATIONS)
    return (value, None) if ok else (None, f"to be one of {list(NORMALIZATIONS)}")


def _shown(value):
    return repr(value) if len(repr(value)) <= 200 else repr(value)[:200] + "..."


def _key(path, arg):
    """The key path of an argument for errors: `generator.args.filters`, or the bare `filters`."""
    return f"{path}.{arg}" if path else arg


def _check_names(builder, args, path, where):
    """Refuses an argument the builder does not declare, or one chosen when building (`RESERVED_ARGS`)."""
    declared = BUILDERS[builder].args
    for arg in args:
        if arg in RESERVED_ARGS:
            raise ValueError(
                f"Expected no {_key(path, arg)}{where}: {' and '.join(RESERVED_ARGS)} are chosen when building. "
                f"Received: {_key(path, arg)}={_shown(args[arg])}"
            )
        if arg not in declared:
            raise ValueError(
                f"Expected only the arguments {sorted(declared)} of {builder}{where}. "
                f"Received: unknown argument {_key(path, arg)}"
            )


def _checked_values(builder, args, path, where):
    """Returns every declared argument of `builder`: given ones checked and normalized, the others' defaults."""
    checked = {}
    for arg, rule in BUILDERS[builder].args.items():
        if arg not in args:
            if rule.default == REQUIRED:
                raise ValueError(
                    f"Expected the argument {_key(path, arg)} of {builder}{where}. Received: no such argument"
                )
            checked[arg] = rule.default
            continue
        checked[arg], broken = _check_value(rule, args[arg])
        if broken:
            raise ValueError(
                f"Expected {_key(path, arg)}{where} {broken}. Received: {_key(path, arg)}={_shown(args[arg])}"
            )
    return checked


def check_args(builder, args, path=None, source=None):
    """Checks a builder's arguments against its declaration and counts the weights they give, building nothing.

    Args:
        builder: a name in `BUILDERS`.
        args: the arguments, as a preset or a caller gives them (without
            `dtype` and `name`).
        path: the key path of `args` for errors, e.g. `"generator.args"`;
            None names the bare arguments.
        source: where they came from (a file, a preset name), for errors.

    Returns:
        `(args, parameters)`: every argument (defaults filled in, integers
        as `int`, `image_shape` a tuple), and the weight count of the
        network they build, at most `MAX_PARAMETERS`.

    Raises:
        ValueError: in one line naming the key: an unknown, reserved or
            missing argument, a wrong type, a value out of bounds, an image
            shape the networks cannot halve, or too many weights.

    Example:
        >>> check_args("dcgan_discriminator", {"image_shape": [16, 16, 1], "filters": 32})[1]
        34657
    """
    where = f" in {source}" if source else ""
    if not isinstance(args, dict):
        raise ValueError(f"Expected {path or 'args'}{where} to be an object. Received: {_shown(args)}")
    _check_names(builder, args, path, where)
    checked = _checked_values(builder, args, path, where)
    try:
        parameters = BUILDERS[builder].count(**checked)
    except ValueError:  # the upsampling plan: sides the networks cannot halve alike
        raise ValueError(
            f"Expected {_key(path, 'image_shape')}{where} to have a height and width that can both be halved the same "
            "number of times (at least once) down to a size >= 4, e.g. 16, 28, 32 or 64. "
            f"Received: {_key(path, 'image_shape')}={_shown(args['image_shape'])}"
        ) from None
    if parameters > MAX_PARAMETERS:
        raise ValueError(
            f"Expected {path or f'the arguments of {builder}'}{where} to give at most {MAX_PARAMETERS} parameters. "
            f"Received: {builder} with {', '.join(f'{k}={v!r}' for k, v in checked.items())} has {parameters}"
        )
    return checked, parameters
