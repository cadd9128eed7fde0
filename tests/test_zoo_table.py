"""The README's zoo table is what `scripts/zoo_table.py` makes of the shipped presets' JSON files."""

from pathlib import Path

from helpers import load_script

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_zoo_table_is_current():
    zoo_table = load_script("zoo_table")
    text = README.read_text(encoding="utf-8")
    start, end = zoo_table.readme_table(text)
    assert text.splitlines()[start:end] == zoo_table.table_lines(), (
        "README.md's zoo table is stale: run `python scripts/zoo_table.py --write`"
    )


def test_write_replaces_only_the_table(tmp_path, monkeypatch, capsys):
    zoo_table = load_script("zoo_table")
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\n| preset | Inception FID | old |\n|---|---|\n| `x` | 1 |\n\nAfter the table.\n")
    monkeypatch.setattr(zoo_table, "README", readme)
    assert zoo_table.main(["--write"]) == 0
    lines = readme.read_text().splitlines()
    assert lines[:2] == ["# Title", ""] and lines[-2:] == ["", "After the table."]
    assert lines[2:-2] == zoo_table.table_lines()
    shipped = sorted(
        path.name[: -len(".json")]
        for path in (README.parent / "zoo_configs").glob("*.json")
        if not path.name.endswith(".onnx.json")
    )
    assert [line.split("`")[1] for line in lines if line.startswith("| `")] == shipped
