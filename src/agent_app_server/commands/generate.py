"""``generate-json-schema`` and ``generate-ts``: write the protocol's JSON Schema or TypeScript
types to a directory.

Layer: entry point (imports ``protocol``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="output directory (created if missing)")
    parser.add_argument("--experimental", action="store_true", help="include experimental methods and fields")


def run(args: argparse.Namespace) -> int:
    from ..protocol import schema_gen

    generate = (
        schema_gen.generate_json_schema if args.command == "generate-json-schema" else schema_gen.generate_typescript
    )
    written = generate(args.out, args.experimental)
    print(f"wrote {len(written)} files to {args.out}", file=sys.stderr)
    return 0
