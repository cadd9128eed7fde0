"""`scripts/plot_fd_curves.py`: FD curves against epochs or wall-clock minutes, from metrics.csv."""

import csv

import numpy as np
import pytest

from helpers import load_script


ROWS = [  # FD every second epoch, as `--fd-every 2` logs it
    {"epoch": "1", "d_loss": "1.3", "fd": "", "epoch_seconds": "65.0"},
    {"epoch": "2", "d_loss": "1.2", "fd": "140.5", "epoch_seconds": "70.0"},
    {"epoch": "3", "d_loss": "1.1", "fd": "", "epoch_seconds": "61.0"},
    {"epoch": "4", "d_loss": "1.0", "fd": "90.25", "epoch_seconds": "72.5"},
]


def test_curve_against_minutes_counts_every_epoch():
    xs, fds = load_script("plot_fd_curves").curve(ROWS, "minutes")
    seconds = np.cumsum([65.0, 70.0, 61.0, 72.5])
    np.testing.assert_allclose(xs, [seconds[1] / 60, seconds[3] / 60])
    assert fds == [140.5, 90.25]


def test_curve_against_epochs():
    assert load_script("plot_fd_curves").curve(ROWS, "epoch") == ([2, 4], [140.5, 90.25])


def test_curve_refuses_an_unknown_axis():
    with pytest.raises(ValueError, match="x to be 'epoch' or 'minutes'"):
        load_script("plot_fd_curves").curve(ROWS, "hours")


def test_script_writes_a_png(tmp_path):
    run = tmp_path / "run_a"
    run.mkdir()
    with open(run / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(ROWS[0]))
        writer.writeheader()
        writer.writerows(ROWS)
    out = tmp_path / "curves.png"
    load_script("plot_fd_curves").main([str(run), "--x", "minutes", "--target", "100", "-o", str(out)])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
