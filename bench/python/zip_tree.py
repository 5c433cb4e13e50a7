"""Anchor for the build benchmark: Python's zipfile writing a tree, one thread.

Usage: zip_tree.py SOURCE_DIR OUTPUT LEVEL

Every regular file under SOURCE_DIR, in sorted path order, deflated at LEVEL (no directory
entries), which is what a straightforward Python packer (shiv's own builder included) does.
"""
import os
import sys
import zipfile


def main(source, output, level):
    paths = []
    for directory, subdirectories, files in os.walk(source):
        subdirectories.sort()
        for name in files:
            full = os.path.join(directory, name)
            paths.append((os.path.relpath(full, source).replace(os.sep, "/"), full))
    paths.sort()
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, full in paths:
            archive.write(full, name)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
