"""Test helper: flips one byte in the middle of a payload member's stored data, in place.

    python corrupt_member.py ARCHIVE MEMBER

Offsets come from Python's zipfile (independent of the bootstrap's reader). Prints the member's
compression method (0 stored, 8 deflate).
"""
import json
import struct
import sys
import zipfile

archive, member = sys.argv[1], sys.argv[2]


def data_start(handle, header_offset):
    # APPNOTE 4.3.7: 30-byte local header, then name and extra field of the lengths it gives.
    handle.seek(header_offset)
    header = handle.read(30)
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return header_offset + 30 + name_length + extra_length


with open(archive, "r+b") as handle:
    outer = zipfile.ZipFile(handle)
    payload_name = json.loads(outer.read("environment.json"))["payload"]
    payload_start = data_start(handle, outer.getinfo(payload_name).header_offset)
    with outer.open(payload_name) as nested:
        info = zipfile.ZipFile(nested).getinfo(member)
    position = data_start(handle, payload_start + info.header_offset) - payload_start
    target = payload_start + position + info.compress_size // 2
    handle.seek(target)
    byte = handle.read(1)
    handle.seek(target)
    handle.write(bytes([byte[0] ^ 0x55]))
print(info.compress_type)
