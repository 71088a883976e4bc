"""Write (or, with --check, compare) ``schema.json``: the component package's schema, built in-process.

    python -m tools.schema          # regenerate schema.json
    python -m tools.schema --check  # exit 1 when schema.json is not what the code infers
"""

from __future__ import annotations

import argparse
import sys

from components.package import SCHEMA_FILE, schema_text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make schema ARGS=...",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    text = schema_text()
    if args.check:
        if not SCHEMA_FILE.exists() or SCHEMA_FILE.read_text() != text:
            print(f"{SCHEMA_FILE.name} is out of date: run `make schema` and commit it", file=sys.stderr)
            return 1
        print(f"{SCHEMA_FILE.name} is up to date")
        return 0
    SCHEMA_FILE.write_text(text)
    print(f"wrote {SCHEMA_FILE.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
