"""Test helper: extracts an archive's payload with the bootstrap's extractor in the given ways and
compares each tree with what Python's zipfile (an independent reader) makes of the same payload.

    python extract_check.py ARCHIVE WORKDIR WORKERS:MODE...     (MODE: fork | thread)

Prints one JSON object: {"files": N, "largest": bytes, "results": {"WORKERS:MODE": "same" | difference}}.
On a BootstrapError prints {"error": [code, message]} and exits 3.
"""
import json
import os
import stat
import sys
import zipfile

archive, workdir = sys.argv[1], sys.argv[2]
sys.path.insert(0, archive)  # the bootstrap exactly as packed in the archive (zipimport)
from _pyz_bootstrap import BootstrapError, _unzip  # noqa: E402

environment = json.loads(zipfile.ZipFile(archive).read("environment.json"))
payload_name = environment["payload"]


def tree(root):
    """{relative path: (kind, exec bit, bytes)} of everything under root."""
    result = {}
    for directory, subdirectories, names in os.walk(root):
        for name in subdirectories + names:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            status = os.lstat(path)
            if stat.S_ISDIR(status.st_mode):
                result[relative] = ("dir", None, None)
            else:
                with open(path, "rb") as handle:
                    result[relative] = ("file", bool(status.st_mode & 0o100), handle.read())
    return result


listings = {}
for spec in sys.argv[3:]:
    workers, mode = spec.split(":")
    destination = os.path.join(workdir, "extracted-%s-%s" % (workers, mode))
    try:
        listings[spec] = _unzip.extract_payload(archive, payload_name, destination, workers=int(workers), use_fork=mode == "fork")
    except BootstrapError as error:
        print(json.dumps({"error": [error.code, error.message]}))
        sys.exit(3)

reference_root = os.path.join(workdir, "reference")
with zipfile.ZipFile(archive) as outer:
    with outer.open(payload_name) as nested, zipfile.ZipFile(nested) as payload:
        payload.extractall(reference_root)
        for info in payload.infolist():  # zipfile does not restore modes: apply them
            if info.external_attr >> 16 & 0o111:
                os.chmod(os.path.join(reference_root, info.filename), 0o755)
reference = tree(reference_root)
results = {}
for spec, listing in listings.items():
    workers, mode = spec.split(":")
    destination = os.path.join(workdir, "extracted-%s-%s" % (workers, mode))
    extracted = tree(destination)
    if extracted == reference:
        walked = {}
        for directory, subdirectories, names in os.walk(destination):
            relative = os.path.relpath(directory, destination).replace(os.sep, "/")
            walked["" if relative == "." else relative] = sorted(subdirectories + names)
        results[spec] = "same" if walked == listing else "listing differs from the tree"
    else:
        missing = sorted(set(reference) - set(extracted))[:3]
        extra = sorted(set(extracted) - set(reference))[:3]
        changed = sorted(name for name in set(reference) & set(extracted) if reference[name] != extracted[name])[:3]
        results[spec] = "missing %s extra %s changed %s" % (missing, extra, changed)
sizes = [len(entry[2]) for entry in reference.values() if entry[0] == "file"]
print(json.dumps({"files": len(sizes), "largest": max(sizes), "results": results}))
