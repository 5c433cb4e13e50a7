"""Test-only stand-in archive maker in the layout of docs/ARCHITECTURE.md.

Bootstrap tests build their archives with the real builder (buildPyz); this script is only for
what the builder refuses to make: unsafe payload members ("..", absolute names, symlinks,
duplicates), explicit directory members, and environment.json values it has no option for
(prepend_pythonpath).

Reads a JSON spec on stdin:
  output          path of the .pyz to write
  bootstrap       directory holding __main__.py and _pyz_bootstrap/
  site_packages   optional directory packed as the payload (sorted, no .pyc / __pycache__)
  members         optional extra payload members [{name, text, mode}] written verbatim (lets tests
                  create unsafe names such as "../x" that no directory can hold)
  environment     keys merged over the defaults of environment.json
  compress        deflate payload members (default true)
Prints the build id.
"""
import hashlib
import io
import json
import os
import struct
import sys
import zipfile

FIXED_DATE = (2020, 1, 1, 0, 0, 0)


def payload_files(site_packages):
    files = []
    for directory, subdirectories, names in os.walk(site_packages):
        subdirectories[:] = sorted(name for name in subdirectories if name != "__pycache__")
        for name in names:
            if name.endswith(".pyc"):
                continue
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, site_packages).replace(os.sep, "/")
            with open(path, "rb") as handle:
                data = handle.read()
            files.append((relative, data, os.stat(path).st_mode & 0o777))
    return files


def build_id_of(files):
    # ARCHITECTURE.md: path, NUL, size as 8-byte little-endian, bytes; sorted by path.
    digest = hashlib.sha256()
    for relative, data, _mode in sorted(files, key=lambda item: item[0].encode("utf-8")):
        digest.update(relative.encode("utf-8") + b"\0" + struct.pack("<Q", len(data)) + data)
    return digest.hexdigest()


def add(archive, name, data, mode, method):
    info = zipfile.ZipInfo(name, FIXED_DATE)
    info.external_attr = (0o100000 | mode) << 16 if not (mode >> 12) else mode << 16
    info.create_system = 3
    info.compress_type = method
    archive.writestr(info, data)


def main():
    spec = json.load(sys.stdin)
    files = payload_files(spec["site_packages"]) if spec.get("site_packages") else []
    extra = [(m["name"], m.get("text", "").encode("utf-8"), m.get("mode", 0o644)) for m in spec.get("members", [])]
    build_id = build_id_of(files)
    method = zipfile.ZIP_DEFLATED if spec.get("compress", True) else zipfile.ZIP_STORED
    payload = io.BytesIO()
    with zipfile.ZipFile(payload, "w") as inner:
        for relative, data, mode in sorted(files, key=lambda item: item[0].encode("utf-8")) + extra:
            add(inner, relative, data, mode, method)
    environment = {
        "shiv_version": "1.0.5",
        "always_write_cache": False,
        "build_id": build_id,
        "built_at": "2020-01-01 00:00:00",
        "hashes": {},
        "no_modify": False,
        "reproducible": True,
        "preamble": None,
        "entry_point": None,
        "compile_pyc": False,
        "extend_pythonpath": False,
        "prepend_pythonpath": None,
        "root": None,
        "script": None,
        "pyz_version": "0.0.0-test",
        "payload": "site-packages.zip",
        "payload_files": len(files) + len(extra),
        "payload_size": sum(len(data) for _r, data, _m in files),
        "layout": 1,
    }
    environment.update(spec.get("environment", {}))
    if environment.get("no_modify") and not environment["hashes"]:
        environment["hashes"] = {relative: hashlib.sha256(data).hexdigest() for relative, data, _m in files}
    bootstrap = spec["bootstrap"]
    outer = [("__main__.py", open(os.path.join(bootstrap, "__main__.py"), "rb").read())]
    package = os.path.join(bootstrap, "_pyz_bootstrap")
    for name in sorted(os.listdir(package)):
        if name.endswith(".py"):
            outer.append(("_pyz_bootstrap/" + name, open(os.path.join(package, name), "rb").read()))
    outer.append(("environment.json", json.dumps(environment, sort_keys=True).encode("utf-8")))
    outer.append(("site-packages.zip", payload.getvalue()))
    output = spec["output"]
    temporary = output + ".tmp"
    with open(temporary, "wb") as handle:
        handle.write(b"#!/usr/bin/env python3\n")
        with zipfile.ZipFile(handle, "w") as archive:
            for name, data in sorted(outer, key=lambda item: item[0].encode("utf-8")):
                add(archive, name, data, 0o644, zipfile.ZIP_STORED if name.endswith(".zip") else zipfile.ZIP_DEFLATED)
    os.chmod(temporary, 0o755)
    os.replace(temporary, output)
    print(build_id)


if __name__ == "__main__":
    main()
