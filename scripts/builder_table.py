"""Writes the table of every network builder's arguments into zoo_configs/README.md, from their declaration.

    python scripts/builder_table.py          # print the table
    python scripts/builder_table.py --write  # replace the table between the README's builder-table markers

The declaration is `ganzoo.client.network_args.BUILDERS`; tests/test_builder_docs.py fails when the README's
table differs from what this writes.
"""

import argparse
import pathlib

from ganzoo.client.builder_docs import markdown_table
from ganzoo.client.files import write_atomic

README = pathlib.Path(__file__).resolve().parent.parent / "zoo_configs" / "README.md"
START, END = "<!-- builder-table: written by scripts/builder_table.py -->", "<!-- /builder-table -->"


def with_table(text, table):
    """`text` with `table` between the START and END marker lines (which must each appear once)."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise ValueError(f"Expected one {START!r} line and, after it, one {END!r} line in the README")
    head, rest = text.split(START)
    _, tail = rest.split(END)
    return f"{head}{START}\n{table}\n{END}{tail}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write the table into {README}")
    args = parser.parse_args(argv)
    table = markdown_table()
    if not args.write:
        print(table)
        return
    write_atomic(README, with_table(README.read_text(encoding="utf-8"), table).encode("utf-8"))
    print(f"wrote {README}")


if __name__ == "__main__":
    main()
