#!/usr/bin/env python3
"""Validates JSON documents against the schemas of docs/schema/ (JSON Schema 2020-12).

Each FILE holds one JSON document, or one per line (NDJSON, as `zombies watch --json` prints).
Schemas may refer to each other by their $id (check -> report). Exit 0 when every document passes.

Usage: scripts/validate-json.py SCHEMA FILE...     (SCHEMA: report, tree, check, or a path)
"""
import json
import os
import sys

import jsonschema
from referencing import Registry, Resource

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.path.join(HERE, "..", "docs", "schema")


def load(path):
    with open(path) as f:
        return json.load(f)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    schemas = {
        n: load(os.path.join(SCHEMAS, n))
        for n in sorted(os.listdir(SCHEMAS))
        if n.endswith(".schema.json")
    }
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas.values()
    )
    name = argv[0]
    schema = schemas.get(f"{name}.schema.json") or load(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    failed = count = 0
    for path in argv[1:]:
        with open(path) as f:
            text = f.read()
        try:
            docs = [json.loads(text)]
        except json.JSONDecodeError:
            docs = [json.loads(l) for l in text.splitlines() if l.strip()]
        if not docs:
            print(f"ERROR {path}: no JSON document")
            failed += 1
        for i, d in enumerate(docs):
            count += 1
            errors = sorted(validator.iter_errors(d), key=lambda e: list(e.absolute_path))
            for e in errors[:20]:
                where = "/".join(str(p) for p in e.absolute_path)
                print(f"ERROR {path}[{i}] /{where}: {e.message}")
            failed += bool(errors)
    print(f"{count - failed} of {count} documents valid against {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
