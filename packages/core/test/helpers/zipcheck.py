"""Independent check of a zip archive with CPython's zipfile (used by the TypeScript tests).

Usage: python zipcheck.py ARCHIVE [--nested MEMBER] [--no-data]

Prints one JSON object: the archive's entries as zipfile sees them and, unless --no-data,
the result of ZipFile.testzip() (which reads every member and verifies its CRC-32).
With --nested, the checks apply to the zip stored in MEMBER (opened in place, as the pyz
bootstrap does). Exit status 0 when zipfile could open the archive, 1 otherwise.
"""
import json
import sys
import zipfile


def describe(archive):
    entries = []
    for info in archive.infolist():
        entries.append({
            "name": info.filename,
            "mode": (info.external_attr >> 16) & 0o7777,
            "fileType": (info.external_attr >> 16) & 0o170000,
            "crc32": info.CRC,
            "method": info.compress_type,
            "size": info.file_size,
            "compressedSize": info.compress_size,
            "headerOffset": info.header_offset,
            "flags": info.flag_bits,
            "createSystem": info.create_system,
            "dateTime": list(info.date_time),
        })
    return entries


def main():
    args = sys.argv[1:]
    path = args[0]
    nested = args[args.index("--nested") + 1] if "--nested" in args else None
    check_data = "--no-data" not in args
    result = {"python": "%d.%d" % sys.version_info[:2]}
    try:
        with zipfile.ZipFile(path) as outer:
            if nested is None:
                archive = outer
                result["entries"] = describe(archive)
                result["badMember"] = archive.testzip() if check_data else None
            else:
                with outer.open(nested) as member, zipfile.ZipFile(member) as archive:
                    result["entries"] = describe(archive)
                    result["badMember"] = archive.testzip() if check_data else None
    except Exception as error:  # reported to the test, which prints it
        result["error"] = "%s: %s" % (type(error).__name__, error)
        print(json.dumps(result))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
