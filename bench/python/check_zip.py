"""Independent check of an archive with the standard library's zipfile.

Usage: check_zip.py ARCHIVE [--nested MEMBER]

Runs testzip() (reads and CRC-checks every member) on ARCHIVE and, with --nested, on the zip
stored as MEMBER inside it. Prints JSON: file entry counts and uncompressed bytes. Exit 1 with
the reason on stderr when a member is bad or the nested zip is missing.
"""
import io
import json
import sys
import zipfile


def summarize(archive):
    bad = archive.testzip()
    if bad is not None:
        raise SystemExit("bad CRC or data in member %r" % bad)
    files = [info for info in archive.infolist() if not info.is_dir()]
    return {
        "files": len(files),
        "bytes": sum(info.file_size for info in files),
        "methods": sorted({info.compress_type for info in files}),
    }


def main(argv):
    path = argv[1]
    nested = argv[3] if len(argv) > 3 and argv[2] == "--nested" else None
    with zipfile.ZipFile(path) as outer:
        result = {"outer": summarize(outer)}
        if nested is not None:
            try:
                info = outer.getinfo(nested)
            except KeyError:
                raise SystemExit("no member %r in %s" % (nested, path))
            if info.compress_type != zipfile.ZIP_STORED:
                raise SystemExit("nested %r is not stored (method %d)" % (nested, info.compress_type))
            # Read through a seekable member stream, the way a runtime over a byte range would.
            with outer.open(info) as member:
                data = member.read()
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                result["nested"] = summarize(inner)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(sys.argv)
