"""`MetricsLog`: every logged metric per epoch as CSV, plus a plot at the end."""

import csv
import io
import os
import time

import keras
import numpy as np

from ganzoo.client.files import write_atomic

# Column and plot order of the standard metrics; other keys follow, sorted.
METRIC_ORDER = ("d_loss", "g_loss", "d_real", "d_fake", "gp", "fd")


class MetricsLog(keras.callbacks.Callback):
    """Writes every logged metric per epoch to CSV, and plots them at the end.

    The CSV has the columns `epoch` (1-based), the logged metrics
    (`d_loss`, `g_loss`, `d_real`, `d_fake`, `gp`, `fd`, then any other key)
    and `epoch_seconds`; it is rewritten each epoch, so a metric logged only
    on some epochs (like `fd`) gets a column with empty cells elsewhere.
    Place it after callbacks that add to the logs.

    Args:
        path_csv: the CSV file.
        plot_path: a PNG file for the plot (losses; discriminator outputs;
            other metrics such as `fd`), written at the end of training;
            None for no plot.
        equilibrium: draw the D(x) = 0.5 equilibrium line next to `d_real`
            and `d_fake`: `"auto"` (when the model's loss is a cross-entropy
            one, so that they are probabilities), True or False.

    Attributes:
        rows: one dict per epoch, as in the CSV (a resumed run gets them
            back through `get_state`/`set_state`).

    Example:
        >>> gan.fit(ds, epochs=5, callbacks=[MetricsLog("run/metrics.csv", "run/metrics.png")])
    """

    def __init__(self, path_csv, plot_path=None, equilibrium="auto"):
        super().__init__()
        if equilibrium not in ("auto", True, False):
            raise ValueError(f"Expected equilibrium to be 'auto', True or False. Received: equilibrium={equilibrium!r}")
        self.path_csv = os.fspath(path_csv)
        self.plot_path = None if plot_path is None else os.fspath(plot_path)
        self.equilibrium = equilibrium
        self.rows = []
        self._start = None

    def get_state(self):
        """The rows logged so far: `{"rows": [...]}`, one dict per epoch (numpy numbers as Python ones)."""
        rows = [
            {key: value.item() if isinstance(value, np.generic) else value for key, value in row.items()}
            for row in self.rows
        ]
        return {"rows": rows}

    def set_state(self, state):
        """Continues from a `get_state()` dict: the next epoch's row is added to its rows."""
        self.rows = [dict(row) for row in state["rows"]]

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start if self._start is not None else float("nan")
        self.rows.append({"epoch": epoch + 1, **{k: v for k, v in (logs or {}).items()}, "epoch_seconds": seconds})
        self._write_csv()

    def on_train_end(self, logs=None):
        if self.plot_path is not None and self.rows:
            self.plot()

    def columns(self):
        keys = {k for row in self.rows for k in row} - {"epoch", "epoch_seconds"}
        known = [k for k in METRIC_ORDER if k in keys]
        return ["epoch", *known, *sorted(keys - set(known)), "epoch_seconds"]

    def _write_csv(self):
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=self.columns(), restval="")
        writer.writeheader()
        writer.writerows(self.rows)
        write_atomic(self.path_csv, text.getvalue().encode("utf-8"))  # never a half-written CSV

    def _draws_equilibrium(self):
        from ganzoo.training.balance import PROBABILITY_LOSSES

        if self.equilibrium == "auto":
            return getattr(self.model, "loss_name", None) in PROBABILITY_LOSSES
        return self.equilibrium

    def plot(self):
        """Writes the plot to `plot_path`: losses, D outputs, then other metrics."""
        fig = self.figure()
        buffer = io.BytesIO()
        fig.savefig(buffer, format=os.path.splitext(self.plot_path)[1][1:].lower() or "png", dpi=100)
        import matplotlib.pyplot as plt

        plt.close(fig)
        write_atomic(self.plot_path, buffer.getvalue())

    def figure(self):
        """The plot as a matplotlib figure (the caller closes it)."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        columns = self.columns()[1:-1]
        panels = [
            ("loss", [k for k in ("d_loss", "g_loss", "gp") if k in columns]),
            ("discriminator output", [k for k in ("d_real", "d_fake") if k in columns]),
        ]
        others = [k for k in columns if k not in ("d_loss", "g_loss", "gp", "d_real", "d_fake")]
        panels.append(("Frechet distance (lower is better)" if others == ["fd"] else "other", others))
        panels = [(title, keys) for title, keys in panels if keys]
        fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5), squeeze=False)
        for ax, (title, keys) in zip(axes[0], panels):
            for key in keys:
                points = [(r["epoch"], r[key]) for r in self.rows if isinstance(r.get(key), (int, float, np.number))]
                if points:
                    ax.plot(*zip(*points), marker="o" if len(points) <= 50 else None, markersize=3, label=key)
            if title == "discriminator output" and self._draws_equilibrium():
                ax.axhline(0.5, color="gray", linestyle="--", linewidth=1, label="equilibrium D(x) = 0.5")
            ax.set_title(title)
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        return fig
