#!/usr/bin/env python3
"""Makes an OCI image archive loadable by `docker load` too (called by scripts/release.sh).

`podman manifest push --all --format oci LIST oci-archive:FILE:NAME:TAG` writes an OCI layout whose
index names one multi-arch image index; podman and skopeo load that. Docker engines before 25 only
read the `manifest.json` of `docker save`. This adds one: an entry per architecture, pointing at the
same blobs, tagged NAME:TAG-ARCH (one tag cannot name two architectures in such an engine).

Usage: docker-manifest.py ARCHIVE NAME:TAG
"""
import io
import json
import sys
import tarfile


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    path, ref = sys.argv[1], sys.argv[2]
    with tarfile.open(path) as tar:
        names = set(tar.getnames())
        if "manifest.json" in names:
            print(f"docker-manifest: {path} already has a manifest.json", file=sys.stderr)
            return 1

        def blob(digest: str) -> dict:
            algo, hexd = digest.split(":", 1)
            return json.load(tar.extractfile(f"blobs/{algo}/{hexd}"))

        index = json.load(tar.extractfile("index.json"))
        entries = []
        for top in index["manifests"]:
            if not top["mediaType"].endswith("index.v1+json"):
                print(f"docker-manifest: {path}: expected an image index, found {top['mediaType']}",
                      file=sys.stderr)
                return 1
            for m in blob(top["digest"])["manifests"]:
                arch = m["platform"]["architecture"]
                manifest = blob(m["digest"])
                path_of = lambda d: "blobs/" + d.replace(":", "/", 1)
                entries.append({
                    "Config": path_of(manifest["config"]["digest"]),
                    "RepoTags": [f"{ref}-{arch}"],
                    "Layers": [path_of(layer["digest"]) for layer in manifest["layers"]],
                })
    if not entries:
        print(f"docker-manifest: {path} holds no image", file=sys.stderr)
        return 1
    data = json.dumps(entries, separators=(",", ":")).encode()
    with tarfile.open(path, "a") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
