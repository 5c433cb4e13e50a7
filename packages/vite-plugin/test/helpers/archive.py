"""Reads a .pyz with Python's zipfile (independent of the TypeScript writer) and prints JSON:
the outer entries, environment.json and every payload entry (name, size, CRC, mode, method).
testzip() decompresses every member and checks its CRC, so a bad deflate stream fails here."""

import io
import json
import sys
import zipfile


def entries(archive):
    bad = archive.testzip()
    if bad is not None:
        raise SystemExit("bad CRC in member %s" % bad)
    return [
        {"name": info.filename, "size": info.file_size, "crc": info.CRC, "mode": (info.external_attr >> 16) & 0o7777, "method": info.compress_type}
        for info in archive.infolist()
    ]


with open(sys.argv[1], "rb") as handle:
    first_line = handle.readline().decode()
with zipfile.ZipFile(sys.argv[1]) as outer:
    environment = json.loads(outer.read("environment.json"))
    payload_name = environment.get("payload", "site-packages.zip")
    with zipfile.ZipFile(io.BytesIO(outer.read(payload_name))) as payload:
        print(json.dumps({"shebang": first_line, "outer": entries(outer), "environment": environment, "payload": entries(payload)}))
