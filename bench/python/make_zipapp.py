"""Reference for the runtime benchmark: a plain zipapp holding the whole tree.

Usage: make_zipapp.py OUTPUT MODULE:FUNCTION ROOT [ROOT ...]

Writes "#!/usr/bin/env python3", then one zip (deflate level 6, sorted, no directory entries)
with every file under the ROOTs at the archive root and a __main__.py calling MODULE:FUNCTION.
Python imports straight from it with zipimport, which reads the whole central directory on each
start: the cost pyz's nested payload avoids and shiv's layout (all files in the outer zip) pays.
"""
import os
import sys
import zipfile


def main(output, entry, roots):
    module, function = entry.split(":")
    members = {}
    for root in roots:
        for directory, subdirectories, files in os.walk(root):
            subdirectories[:] = [name for name in subdirectories if name != "__pycache__"]
            for name in files:
                full = os.path.join(directory, name)
                members[os.path.relpath(full, root).replace(os.sep, "/")] = full
    with open(output, "wb") as stream:
        stream.write(b"#!/usr/bin/env python3\n")
        with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            archive.writestr("__main__.py", "import sys, %s\nsys.exit(%s.%s())\n" % (module, module, function))
            for name in sorted(members):
                archive.write(members[name], name)
    os.chmod(output, 0o755)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
