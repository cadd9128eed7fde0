"""A `ganzoo train` run in phases: prepare, build, restore, fit, save, then write its files and finish.

`ganzoo.runs.run.train` and `resume` lock the run folder, record the run,
and call the phases of a `Run` in order (`ganzoo.runs.run._run`):

    run.prepare()            # samples/, the seed, the dtype policy to restore
    try:
        run.build()          # precision, distribution, the GAN, the data, the callbacks
        run.restore()        # the checkpoint a resume continues from
        run.fit()            # model.fit over the remaining epochs
        run.save_generators()  # generator.keras (float32), generator_best.keras
    finally:
        run.close()          # the dtype policy and the distribution, whatever happened
    run.write_preset()       # config.json
    _export(...)             # generator.onnx, when the settings ask for it
    result = run.finish()    # checkpoints removed; the result and its summary line

Each phase keeps what the next one needs on the `Run`.
"""

import contextlib
import json
import os
import sys
import time

import keras

import ganzoo
from ganzoo import data
from ganzoo.client.files import sha256_file, write_atomic
from ganzoo.runs import checkpoint, run_folder
from ganzoo.runs.run_callbacks import RunCallbacks
from ganzoo.training import config as config_module
from ganzoo.training import distribution as distribution_module


def _float32_copy(entry, network):
    """Builds `network`'s preset entry in float32 (the global policy untouched) and copies its weights."""
    copy = config_module.build_network(entry, dtype="float32")
    copy.set_weights(network.get_weights())
    return copy


class Run:
    """One run of `config` into the locked folder `out_dir`, phase by phase (see the module docstring).

    Args:
        config: the validated preset dict (`recipe.epochs` already final).
        out_dir: the run folder, which holds the run's `run.json`.
        settings: the run's settings (`ganzoo.runs.run_settings.run_settings`).
        verbose: Keras' verbosity.
        callbacks: the caller's Keras callbacks.
        start: None for a new run, or `ganzoo.runs.checkpoint.find`'s
            `(epochs_done, folder, note)` for a resumed one.
    """

    def __init__(self, config, out_dir, settings, *, verbose=1, callbacks=(), start=None):
        self.config, self.out_dir, self.settings = config, out_dir, settings
        self.verbose, self.extra_callbacks, self.start = verbose, tuple(callbacks), start
        self.recipe = config["recipe"]
        self.initial_epoch = 0 if start is None else start[0]
        self.files = {}
        self._previous_policy = None
        self._end_distribution = lambda: None

    def prepare(self):
        """Creates `samples/`, seeds Python, NumPy and the backend from `recipe.seed`, notes the dtype policy."""
        os.makedirs(os.path.join(self.out_dir, "samples"), exist_ok=True)
        keras.utils.set_random_seed(self.recipe["seed"])
        self._previous_policy = keras.mixed_precision.global_policy()

    def build(self):
        """Starts the distribution and the precision, builds the GAN, loads the data and makes the callbacks."""
        distribute = self.settings.get("distribute")  # None: one device; "all": every local accelerator; N replicas
        if distribute is None:
            scope, replicas = contextlib.nullcontext(), 1
        else:
            scope, replicas, self._end_distribution = distribution_module.data_parallel(
                None if distribute == "all" else distribute
            )
        keras.mixed_precision.set_global_policy(self.settings["precision"])
        if self.recipe["batch_size"] % replicas:
            raise ValueError(
                f"Expected recipe.batch_size (the global batch) divisible by the {replicas} replicas. "
                f"Received: batch_size={self.recipe['batch_size']}"
            )
        with scope:
            self.gan = config_module.build_gan(self.config, jit_compile=self.settings["jit"])
        self._check_image_shape()
        self._load_data()
        self.callbacks = RunCallbacks(
            self.config,
            self.out_dir,
            self.settings,
            image_shape=self.gan.image_shape,
            steps_per_epoch=self.steps_per_epoch,
            extra=self.extra_callbacks,
        )

    def _check_image_shape(self):
        recipe = self.recipe
        wanted = tuple(data.image_shape(recipe["dataset"], recipe["image_size"]))
        if wanted != tuple(self.gan.image_shape):
            raise ValueError(
                f"Expected recipe.image_size and recipe.dataset to give the networks' image shape "
                f"{tuple(self.gan.image_shape)}. Received: recipe.image_size={recipe['image_size']} on "
                f"{recipe['dataset']!r}, which gives {wanted}"
            )

    def _load_data(self):
        # Epoch e is shuffled by (seed, e) alone, so a resumed run reads what an uninterrupted one would.
        self.dataset, self.steps_per_epoch = data.load_epochs(
            self.recipe["dataset"],
            first_epoch=self.initial_epoch,
            seed=self.recipe["seed"],
            batch_size=self.recipe["batch_size"],
            image_size=self.recipe["image_size"],
            with_labels=self.config["gan"]["num_classes"] is not None,
            discriminator_steps=self.config["gan"]["discriminator_steps"],
        )

    def restore(self):
        """Restores the checkpoint a resumed run continues from (a new run has none) into the GAN and callbacks."""
        if self.start is None:
            return
        checkpoint.restore(self.start[1], self.gan, **self.callbacks.parts)
        if self.verbose:
            print(f"ganzoo: resuming {self.out_dir} after epoch {self.initial_epoch} of {self.recipe['epochs']}")
        if self.start[2] is not None:  # latest.json was not followed: say so whatever the verbosity
            print(f"ganzoo: note: {self.start[2]}", file=sys.stderr)

    def fit(self):
        """Trains the remaining epochs with `model.fit`, timing them."""
        # A resumed run counts the epochs before the interruption too (their times travel in the checkpoint).
        rows = self.callbacks.metrics_log.rows
        self.earlier_seconds = sum(float(row.get("epoch_seconds") or 0.0) for row in rows)
        started = time.perf_counter()
        # shuffle=False: ganzoo.data.load shuffles; Keras would only warn that it ignores the flag.
        self.history = self.gan.fit(
            self.dataset,
            epochs=self.recipe["epochs"],
            initial_epoch=self.initial_epoch,
            steps_per_epoch=self.steps_per_epoch,
            verbose=self.verbose,
            callbacks=self.callbacks.all,
            shuffle=False,
        )
        self.process_seconds = time.perf_counter() - started
        self.seconds = self.earlier_seconds + self.process_seconds

    def save_generators(self):
        """Saves `generator.keras` (float32; the EMA generator when enabled) and `generator_best.keras` (lowest FD)."""
        ema, fd_monitor = self.callbacks.ema, self.callbacks.fd_monitor
        final = ema.ema_generator if ema is not None else self.gan.generator
        self.generator = _float32_copy(self.config["generator"], final)
        path = os.path.join(self.out_dir, "generator.keras")
        self.files["generator"] = run_folder.save_model(self.generator, path)
        if fd_monitor is not None and fd_monitor.best_weights is not None:
            best = _float32_copy(self.config["generator"], final)
            best.set_weights(fd_monitor.best_weights)
            path = os.path.join(self.out_dir, "generator_best.keras")
            self.files["generator_best"] = run_folder.save_model(best, path)

    def close(self):
        """Restores the dtype policy and ends the distribution (call it after `build`, whatever happened)."""
        keras.mixed_precision.set_global_policy(self._previous_policy)
        self._end_distribution()

    def write_preset(self):
        """Writes `config.json`: the config as a preset with `weights` (sha256), `training` and `quality` null."""
        self.files["samples"] = self.callbacks.sample_grid.paths
        self.files["metrics_csv"] = self.callbacks.metrics_log.path_csv
        self.files["metrics_png"] = self.callbacks.metrics_log.plot_path
        config, generator_file = self.config, self.files["generator"]
        config["weights"] = {
            "file": "generator.keras",
            "sha256": sha256_file(generator_file),
            "size_bytes": os.path.getsize(generator_file),
        }
        config["quality"] = None  # new weights; `ganzoo evaluate` fills it in
        precision, jit = self.settings["precision"], self.settings["jit"]
        config["training"] = {
            "seconds": round(self.seconds, 2),
            "command": self.settings["command"] or f"ganzoo.runs.run.train(precision={precision!r}, jit={bool(jit)})",
            "ganzoo_version": ganzoo.__version__,
        }
        config_module.validate_config(config)
        self.files["config"] = os.path.join(self.out_dir, "config.json")
        write_atomic(self.files["config"], (json.dumps(config, indent=2) + "\n").encode("utf-8"))

    def finish(self):
        """Removes the run's checkpoints (nothing is left to resume) and returns the result `train` returns."""
        # A checkpoints/ folder the run did not create stays.
        recorded = run_folder.written(self.out_dir)
        checkpoint.remove(self.out_dir, keep_folder=recorded is not None and "checkpoints" not in recorded[1])
        return {
            "config": self.config,
            "history": self.history.history,
            "seconds": self.seconds,
            "process_seconds": self.process_seconds,
            "nan_guard": self.callbacks.guard.tripped,
            "out_dir": self.out_dir,
            "files": self.files,
            "resumed_from": self.initial_epoch,
            "summary": self.summary(),
        }

    def summary(self):
        """One line: the run (its folder and variant), what this process trained, and the run's total."""
        done, total = len(self.history.epoch), self.initial_epoch + len(self.history.epoch)
        if done:
            here = f"epochs {self.initial_epoch + 1}-{total} in {self.process_seconds:.1f} s in this process"
        else:
            here = "no epoch left to train in this process (it wrote the run's files)"
        return (
            f"Trained {self.out_dir} ({self.config['variant']}): {here}; "
            f"{total} epoch{'s' * (total != 1)}, {self.seconds:.1f} s in total."
        )
