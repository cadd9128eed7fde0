"""Prints the README's zoo table from the shipped presets' `quality`, `recipe`, `training` and `weights` fields.

python scripts/zoo_table.py           # print it
python scripts/zoo_table.py --write   # replace the table in README.md (tests/test_zoo_table.py checks it is current)
"""

import sys
from pathlib import Path


from ganzoo.client import hub
from ganzoo.client import presets


def _cell(value, digits):
    return "" if value is None else f"{value:.{digits}f}"


def _inception_cell(inception):
    """The preset's FID, and its mean ± std over seeds where `scripts/seed_fid.py` stored one."""
    cell = _cell(inception.get("fid"), 1)
    seeds = inception.get("seeds")
    if seeds:
        cell += f" ({seeds['mean']:.1f} ± {seeds['std']:.1f} over {len(seeds['seeds'])} seeds)"
    return cell


README = Path(__file__).resolve().parents[1] / "README.md"


def table_lines():
    """The table, a list of Markdown lines."""
    lines = []
    print = lines.append  # noqa: A001 - the rows below read as the printed table they are
    print(
        "| preset | Inception FID | FD | KID | precision | recall | label acc. | class entropy | epochs | EMA | "
        "train time | weights |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    baselines, inception_baselines = {}, {}
    for name in hub.list_names(hub.Hub(hub.shipped_dir())):
        config = presets.read_preset(name)
        q, recipe = config["quality"] or {}, config["recipe"]
        baselines.setdefault(recipe["dataset"], q.get("baseline"))
        inception = q.get("inception") or {}
        if inception.get("baseline"):
            inception_baselines.setdefault(recipe["dataset"], inception["baseline"].get("fid"))
        minutes = config["training"]["seconds"] / 60
        print(
            f"| `{name}` | {_inception_cell(inception)} | {_cell(q.get('fd'), 1)} | {_cell(q.get('kid'), 2)} | {_cell(q.get('precision'), 3)} | "
            f"{_cell(q.get('recall'), 3)} | {_cell(q.get('label_accuracy'), 3)} | {_cell(q.get('class_entropy'), 3)} | "
            f"{recipe['epochs']} | {recipe['ema_decay'] or '-'} | {minutes:.1f} min | "
            f"{config['weights']['size_bytes'] / 1e6:.2f} MB |"
        )
    for dataset, q in sorted(baselines.items()):
        if q:
            print(
                f"| real data, {dataset} (train vs test) | {_cell(inception_baselines.get(dataset), 2)} | {q['fd']:.2f} | {q['kid']:.2f} | {q['precision']:.3f} | "
                f"{q['recall']:.3f} | {q['label_accuracy']:.3f} | {q['class_entropy']:.3f} | | | | |"
            )
    return lines


def readme_table(text):
    """`(start, end)` line indices of the zoo table in the README's text (the block under its header row)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| preset | Inception FID |"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return start, end


def main(argv):
    lines = table_lines()
    if "--write" not in argv:
        print("\n".join(lines))
        return 0
    text = README.read_text(encoding="utf-8")
    old = text.splitlines()
    start, end = readme_table(text)
    README.write_text("\n".join(old[:start] + lines + old[end:]) + "\n", encoding="utf-8")
    print(f"Wrote the zoo table ({len(lines)} lines) into {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
