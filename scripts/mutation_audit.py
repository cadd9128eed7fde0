"""Tests the tests: applies deliberate breakages to a scratch copy, one at a time, and checks that the suite catches each.

Each mutation names a file, a piece of its text, what to put instead, and the test selection
that must fail for it. A mutation whose text is not found is reported as stale (the code moved:
update the list), and one the tests do not catch makes the script exit 1.

    python scripts/mutation_audit.py            # all mutations (a few minutes on 2 cores)
    python scripts/mutation_audit.py --list
    python scripts/mutation_audit.py --only gp_stop_gradient
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# name: (file, old text, new text, pytest arguments that must fail)
MUTATIONS = {
    "preset_errors_before_tensorflow": (
        "ganzoo/commands/train_handler.py",
        'if args.resume is None and (args.name or "dcgan") not in VARIANTS:',
        "if False:",
        ["tests/test_cli_train.py", "-k", "before_tensorflow"],
    ),
    "epochs_flag_bound": (
        "ganzoo/commands/train.py",
        'type=flag_types.int_at_least("--epochs", 1)',
        "type=int",
        ["tests/test_cli_train.py", "-k", "before_tensorflow"],
    ),
    "jax_host_thread_pool": (
        "ganzoo/host_threads.py",
        '        environ["PJRT_NPROC"] = str(max(_usable_cores(), threads_needed(replicas)))\n',
        "        pass\n",
        ["tests/test_distribution.py", "-k", "split_jax_host or dispatched_ahead or deadlock"],
    ),
    "network_arg_bounds": (
        "ganzoo/client/network_args.py",
        "ok = _is_int(value) and spec.low <= value <= spec.high",
        "ok = _is_int(value)",
        ["tests/test_preset_bounds.py", "-k", "bounded"],
    ),
    "size_bytes_cap": (
        "ganzoo/client/hub.py",
        "not 1 <= size_bytes <= MAX_FILE_BYTES",
        "not 1 <= size_bytes",
        ["tests/test_hub_limits.py", "-k", "size_bytes"],
    ),
    "folding_subgraph_guard": (
        "export/graph_folding.py",
        "    if graph_edits.has_subgraphs(graph):\n        return 0\n",
        "",
        ["tests/test_graph_rewrites.py", "-k", "subgraphs"],
    ),
    "one_hot_cap": (
        "export/portable_ops.py",
        "MAX_DEPTH = 4096",
        "MAX_DEPTH = 10**9",
        ["tests/test_graph_rewrites.py", "-k", "max_depth"],
    ),
    "gp_stop_gradient": (
        "ganzoo/training/step.py",
        "gp = gradient_penalty_from_gradients(grads)",
        "gp = ops.stop_gradient(gradient_penalty_from_gradients(grads))",
        ["tests/test_gan_penalty.py"],
    ),
    "spectral_norm_half_precision": (
        "ganzoo/models/spectral_norm.py",
        'kernel = ops.cast(self.layer.kernel, "float32")',
        "kernel = ops.cast(self.layer.kernel, self.compute_dtype)",
        ["tests/test_spectral_norm.py", "-k", "mixed"],
    ),
    "registered_name_refusal": (
        "ganzoo/client/serialized_keras.py",
        'if registered is not None and registered != item.get("class_name"):',
        "if False:",
        ["tests/test_config.py", "-k", "registered"],
    ),
    "fd_best_weights_zero": (
        "ganzoo/training/callbacks/frechet_monitor.py",
        "self.best_weights = generator.get_weights()",
        "self.best_weights = [w * 0 for w in generator.get_weights()]",
        ["tests/test_callbacks.py", "-k", "keeps_the_best"],
    ),
    "non_finite_pixels_allowed": (
        "ganzoo/training/inputs.py",
        "        if bad:\n",
        "        if False:\n",
        ["tests/test_fit_checks.py", "-k", "non_finite and array"],
    ),
    "zip_sizes_unchecked": (
        "ganzoo/training/keras_file.py",
        '"""Refuses a `.keras` zip whose directory announces a bomb, before any member is read.\n',
        '"""Refuses a `.keras` zip whose directory announces a bomb, before any member is read."""\n    return\n    """\n',
        ["tests/test_keras_file.py", "-k", "bomb"],
    ),
    "label_range_unchecked": (
        "ganzoo/client/labels.py",
        "return bool(values.size) and bool(values.min() < 0 or values.max() >= num_classes)",
        "return False",
        ["tests/test_labels.py"],
    ),
    "user_callback_state_ignored": (
        "ganzoo/training/callbacks/state.py",
        "def has_state(callback):\n",
        'def has_state(callback):\n    return callback.__class__.__module__.startswith("ganzoo.")\n',
        ["tests/test_callback_state.py", "-k", "user"],
    ),
    "r1_stop_gradient": (
        "ganzoo/training/step.py",
        "return r1_penalty_from_gradients(gradients.input_gradients(critic, real_images))",
        "return ops.stop_gradient(r1_penalty_from_gradients(gradients.input_gradients(critic, real_images)))",
        ["tests/test_r1.py", "-k", "closed_form"],
    ),
    "augment_skips_the_generator_pass": (
        "ganzoo/training/step.py",
        "fake_images = augmented(gan, gan.generator(network_inputs(z, labels), training=True))",
        "fake_images = gan.generator(network_inputs(z, labels), training=True)",
        ["tests/test_augment.py", "-k", "every_pass"],
    ),
    "ada_moves_the_wrong_way": (
        "ganzoo/training/step.py",
        "step = ops.sign(real_sign - gan.ada_target)",
        "step = ops.sign(gan.ada_target - real_sign)",
        ["tests/test_ada.py", "-k", "rises"],
    ),
    "runtime_layer_contract_dropped": (
        "pyproject.toml",
        '    "ganzoo.export.runtime",\n',
        "",
        ["tests/test_layers.py", "-k", "violation"],
    ),
    "stabiliser_flags_not_applied": (
        "ganzoo/commands/train_config.py",
        '            gan[attr] = None if value == "none" else value\n',
        "            pass\n",
        ["tests/test_cli_train.py", "-k", "stabiliser_flags_reach"],
    ),
    "stabiliser_float_infinite": (
        "ganzoo/commands/flag_types.py",
        "if not (inside and math.isfinite(value)):",
        "if not (inside or math.isinf(value)):",
        ["tests/test_cli_train.py", "-k", "checked_while_parsing"],
    ),
    "zoo_table_rows_dropped": (
        "scripts/zoo_table.py",
        "    return lines\n",
        "    return lines[:-1]\n",
        ["tests/test_zoo_table.py", "-k", "current"],
    ),
    "cli_flag_bounds_dropped": (
        "ganzoo/client/builder_docs.py",
        "if value is None or not low <= value <= high:",
        "if value is None:",
        ["tests/test_builder_docs.py", "-k", "flags_take_the_declared_bounds"],
    ),
}


def _copy(destination):
    patterns = shutil.ignore_patterns(".git", "node_modules", "__pycache__", ".pytest_cache", "*.egg-info")

    def ignore(folder, names):  # the top-level runs/ holds run folders; ganzoo/runs/ is code
        return set(patterns(folder, names)) | ({"runs"} if Path(folder) == REPO else set())

    shutil.copytree(REPO, destination, ignore=ignore)
    # export/ installs as ganzoo.export: a link makes the copy's own export/ that package when the copy
    # comes first on PYTHONPATH (otherwise an editable install would map it back to the checkout).
    (destination / "ganzoo" / "export").symlink_to(Path("..") / "export")


def audit(names):
    """Returns `{name: "caught" | "NOT CAUGHT" | "stale"}`."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="ganzoo-mutants-") as scratch:
        copy = Path(scratch) / "repo"
        _copy(copy)
        env = {**os.environ, "PYTHONPATH": f"{copy}{os.pathsep}{copy / 'tests'}", "TF_CPP_MIN_LOG_LEVEL": "3"}
        for name in names:
            file, old, new, selection = MUTATIONS[name]
            path = copy / file
            original = path.read_text(encoding="utf-8")
            if original.count(old) != 1:
                results[name] = "stale"
                continue
            path.write_text(original.replace(old, new), encoding="utf-8")
            try:
                result = subprocess.run(
                    [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *selection],
                    cwd=copy,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=900,
                )
            finally:
                path.write_text(original, encoding="utf-8")
            results[name] = (
                "caught" if result.returncode == 1 else ("NOT CAUGHT" if result.returncode == 0 else "error")
            )
            print(f"{name:32} {results[name]}", flush=True)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(MUTATIONS), help="run only these mutations")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    args = parser.parse_args()
    if args.list:
        for name, (file, _, _, selection) in MUTATIONS.items():
            print(f"{name:32} {file:34} {' '.join(selection)}")
        return 0
    results = audit(args.only or list(MUTATIONS))
    missed = [name for name, result in results.items() if result != "caught"]
    print(
        f"{len(results) - len(missed)} of {len(results)} mutations caught"
        + (f"; not: {', '.join(missed)}" if missed else "")
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
