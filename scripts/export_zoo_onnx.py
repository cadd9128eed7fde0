"""Exports every shipped preset's generator to ONNX (uint8 pixels out) and records it in the preset.

Writes `zoo_configs/<name>.onnx` and its sidecar `<name>.onnx.json` (through
`ganzoo.runs.publish.export_preset_onnx`, verified against Keras), then sets the
preset's `onnx` entry (file, sha256, size_bytes). The `.keras` weights are not
touched. Run it after retraining a preset or changing the exporter:

    KERAS_BACKEND=tensorflow python scripts/export_zoo_onnx.py [NAME ...]
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from ganzoo.client import hub as hub_lib  # noqa: E402
from ganzoo.client import presets  # noqa: E402
from ganzoo.runs.publish import _file_entry, export_preset_onnx  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="presets (default: every shipped one)")
    args = parser.parse_args(argv)
    shipped = hub_lib.shipped_dir()
    for name in args.names or hub_lib.list_names(hub_lib.Hub(shipped)):
        config = presets.load_config(name, shipped)
        onnx_file = shipped / f"{name}.onnx"
        export_preset_onnx(
            presets.weights_path(name, shipped, config), onnx_file, name, config["variant"], config["recipe"]["dataset"]
        )
        entry = _file_entry(onnx_file)
        raw = presets.read_preset(name, shipped)
        # Keep the key order of the file: `onnx` goes right after `weights`.
        updated = {}
        for key, value in raw.items():
            if key != "onnx":
                updated[key] = value
            if key == "weights":
                updated["onnx"] = entry
        hub_lib.write_atomic(shipped / f"{name}.json", (json.dumps(updated, indent=2) + "\n").encode("utf-8"))
        print(f"{name}: {onnx_file.name} ({entry['size_bytes']:,} bytes, sha256 {entry['sha256'][:12]}...)")


if __name__ == "__main__":
    main()
