"""The builders' declaration is the one source of the CLI flags' bounds and of the preset README's table."""

import pytest

from helpers import load_script

from ganzoo.cli import main
from ganzoo.client import builder_docs, network_args


def test_the_readme_table_is_the_declarations():
    script = load_script("builder_table")
    text = script.README.read_text(encoding="utf-8")
    assert script.with_table(text, builder_docs.markdown_table()) == text, (
        "run: python scripts/builder_table.py --write"
    )


def test_the_table_has_a_row_per_declared_argument_with_its_bounds():
    rows = builder_docs.markdown_table().splitlines()[2:]
    declared = [(name, arg) for name, builder in network_args.BUILDERS.items() for arg in builder.args]
    assert [tuple(cell.strip(" `") for cell in row.split("|")[1:3]) for row in rows] == declared
    assert f"| `dcgan_generator` | `filters` | an int in [1, {network_args.MAX_FILTERS}] | 64 |" in rows


def test_with_table_refuses_a_readme_without_its_markers():
    with pytest.raises(ValueError, match="builder-table"):
        load_script("builder_table").with_table("no markers here", "| table |")


def test_shared_bounds_are_the_declared_ones_and_refuse_other_arguments():
    assert builder_docs.shared_bounds("filters") == (1, network_args.MAX_FILTERS)
    assert builder_docs.shared_bounds("latent_dim") == (1, network_args.MAX_LATENT_DIM)
    with pytest.raises(ValueError, match="'image_shape'"):
        builder_docs.shared_bounds("image_shape")


@pytest.mark.parametrize(
    "argv, flag, bounds",
    [
        (["--filters", str(network_args.MAX_FILTERS + 1)], "--filters", f"[1, {network_args.MAX_FILTERS}]"),
        (["--filters", "0"], "--filters", f"[1, {network_args.MAX_FILTERS}]"),
        (["--latent-dim", "ten"], "--latent-dim", f"[1, {network_args.MAX_LATENT_DIM}]"),
        (["--image-size", str(network_args.MAX_SIDE + 1)], "--image-size", f"[1, {network_args.MAX_SIDE}]"),
    ],
)
def test_train_flags_take_the_declared_bounds_while_parsing(tmp_path, capsys, argv, flag, bounds):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "dcgan", *argv, "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert f"Expected {flag} to be an int in {bounds}. Received: '{argv[1]}'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_train_help_states_the_bounds(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"--filters FILTERS network width, for a variant: an int in [1, {network_args.MAX_FILTERS}]" in text
