#!/usr/bin/env python3
"""Validates Kubernetes manifests offline; exit 0 when every object passes.

Core kinds: PyPI kubernetes-validate (--strict: unknown fields fail) against the Kubernetes API
schemas it bundles. monitoring.coreos.com/v1 kinds (ServiceMonitor, PrometheusRule): jsonschema
against scripts/schemas/monitoring.coreos.com-v1.json, a vendored subset of the operator's CRDs.
Any other kind, or a kind kubernetes-validate has no schema for, is an error: nothing is skipped.

A file may mix both (a rendered kustomize overlay): its core objects are validated from a
temporary copy holding only them.

Usage: scripts/validate-manifests.py [-k KUBERNETES_VERSION] FILE...
"""
import json
import os
import subprocess
import sys
import tempfile

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv):
    version = "1.37.0"
    if len(argv) >= 2 and argv[0] == "-k":
        version, argv = argv[1], argv[2:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    with open(os.path.join(HERE, "schemas", "monitoring.coreos.com-v1.json")) as f:
        crd = json.load(f)
    failed = 0
    core_files = []
    temp_files = []
    for path in argv:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        if not docs:
            print(f"ERROR {path}: no object")
            failed += 1
        core = []
        for d in docs:
            kind, api = d.get("kind"), d.get("apiVersion")
            if api == "monitoring.coreos.com/v1":
                schema = crd["kinds"].get(kind)
                if schema is None:
                    print(f"ERROR {path}: no schema for {api} {kind}")
                    failed += 1
                    continue
                schema = dict(schema, definitions=crd["definitions"])
                errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(d), key=str)
                for e in errors:
                    where = ".".join(str(p) for p in e.absolute_path)
                    print(f"ERROR {path}: {kind} {where}: {e.message}")
                failed += bool(errors)
                if not errors:
                    print(f"OK {path}: {kind}/{d['metadata']['name']} against the vendored CRD subset")
            else:
                core.append(d)
        if core and len(core) == len(docs):
            core_files.append(path)
        elif core:
            tmp = tempfile.NamedTemporaryFile(
                "w", prefix=os.path.basename(path) + ".core.", suffix=".yaml", delete=False
            )
            with tmp:
                yaml.safe_dump_all(core, tmp, sort_keys=False)
            temp_files.append(tmp.name)
            core_files.append(tmp.name)
    try:
        return check_core(version, core_files, failed)
    finally:
        for t in temp_files:
            os.unlink(t)


def check_core(version, core_files, failed):
    if core_files:
        # Objects of CRD kinds in the same file make kubernetes-validate warn; keep core files apart.
        r = subprocess.run(
            ["kubernetes-validate", "--strict", "-k", version, *core_files],
            capture_output=True, text=True,
        )
        out = r.stdout + r.stderr
        sys.stdout.write(out)
        bad = [l for l in out.splitlines() if l.startswith(("WARN", "ERROR"))]
        if r.returncode != 0 or bad:
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
