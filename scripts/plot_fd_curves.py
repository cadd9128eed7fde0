"""Plots FD over epochs (the `fd` column of each run's metrics.csv) for several runs in one figure.

    python scripts/plot_fd_curves.py runs/dcgan_fashion_mnist runs/sngan_fashion_mnist -o docs/images/fd_curves.png
    python scripts/plot_fd_curves.py RUN ... --x minutes   # FD against wall-clock training time

With `--x minutes` the x axis is the run's training time up to the end of each epoch: the running sum of
metrics.csv's `epoch_seconds` (which includes the FD evaluations themselves), in minutes.

The `fd` column is `FrechetDistanceMonitor`'s figure during training (2,000 samples of the EMA generator
when the run keeps one, against the test split), which runs higher than `ganzoo evaluate`'s 10,000-sample
figure: compare curves with each other, and final models with the README table.
"""

import argparse
import csv
import io
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ganzoo.client.files import write_atomic  # noqa: E402


def curve(rows, x="epoch"):
    """`(xs, fds)` of metrics.csv rows: FD at each epoch that has one, against the epoch or the minutes trained.

    Minutes count every epoch's `epoch_seconds`, those without an FD figure included.
    """
    if x not in ("epoch", "minutes"):
        raise ValueError(f"Expected x to be 'epoch' or 'minutes'. Received: x={x!r}")
    xs, fds, seconds = [], [], 0.0
    for row in rows:
        seconds += float(row["epoch_seconds"]) if x == "minutes" else 0.0
        if row.get("fd"):
            xs.append(int(row["epoch"]) if x == "epoch" else seconds / 60.0)
            fds.append(float(row["fd"]))
    return xs, fds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run folders holding metrics.csv")
    parser.add_argument("-o", "--output", default="fd_curves.png")
    parser.add_argument("--x", choices=("epoch", "minutes"), default="epoch", help="x axis (default epoch)")
    parser.add_argument("--target", type=float, default=None, help="draw a horizontal target line at this FD")
    args = parser.parse_args(argv)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for run in args.runs:
        with open(os.path.join(run, "metrics.csv"), newline="") as f:
            xs, fds = curve(list(csv.DictReader(f)), args.x)
        ax.plot(
            xs,
            fds,
            marker="o",
            markersize=3,
            label=os.path.basename(os.path.normpath(run)),
        )
    if args.target is not None:
        ax.axhline(args.target, color="gray", linestyle="--", linewidth=1, label=f"target FD {args.target:g}")
    ax.set_xlabel("epoch" if args.x == "epoch" else "training time (minutes, this machine)")
    ax.set_ylabel("FD (2,000 samples, during training)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    write_atomic(args.output, buffer.getvalue())
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
