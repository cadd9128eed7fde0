#!/bin/bash
# Ships a finished `ganzoo train` run as a zoo preset (developers). Usage:
#
#     bash scripts/ship_preset.sh RUN_DIR NAME
#
# 1. `ganzoo publish` writes zoo_configs/NAME.{json,keras,onnx,onnx.json} (the ONNX file verified against Keras);
# 2. the recorded training command is made repeatable from the shipped name (`ganzoo train NAME`): a run
#    started from a preset file or with an absolute --out records those paths;
# 3. `ganzoo evaluate NAME -n 10000 --seed 0 --write-preset` stores the quality figures in the preset;
# 4. docs/images/NAME.png is the README's sample grid (seed 0; 64 samples, or 4 per class when conditional).
# Afterwards re-pin the zoo test (python tests/test_zoo.py --pin) and rewrite the README table (python scripts/zoo_table.py --write).
set -euo pipefail
run_dir=$1
name=$2
cd "$(dirname "$0")/.."
python -m ganzoo publish "$run_dir" --name "$name" --hub zoo_configs --overwrite
python - "$name" <<'PY'
import json, re, sys
from ganzoo.client import hub
from ganzoo.client.preset_schema import validate_config
name = sys.argv[1]
path = hub.shipped_dir() / f"{name}.json"
config = json.loads(path.read_text())
command = config["training"]["command"]
command = re.sub(r"^ganzoo train \S+", f"ganzoo train {name}", command)
command = re.sub(r" --out \S+", f" --out runs/{name}", command)
config["training"]["command"] = command
validate_config(config, source=str(path))
hub.write_atomic(path, (json.dumps(config, indent=2) + "\n").encode("utf-8"))
print(f"{name}: training command recorded as: {command}")
PY
python -m ganzoo evaluate "$name" -n 10000 --seed 0 --write-preset --json "/tmp/evaluation_$name.json"
samples=$(python -c "import sys; from ganzoo.client import presets; k = presets.read_preset(sys.argv[1])['gan']['num_classes']; print(64 if k is None else 4 * k)" "$name")
python -m ganzoo generate "$name" -n "$samples" --seed 0 -o "docs/images/$name.png"
