"""`pyz cache list | prune`: inspect and clean the runtime cache with the runtime's own rules.

Run by the Node CLI (packages/core/src/cache.ts) as `python3 -I -c ...` with this package on
sys.path; prints one JSON document. Whether an extraction is in use is decided exactly as the
running archives decide it (a shared flock on `.pyz-in-use`, see `_acquire_in_use`), which Node
cannot do itself.
"""

import json
import os
import sys
import time

from . import IN_USE_NAME, MANIFEST_NAME, SITE_PACKAGES, cache_state, default_root
from . import _extract


def _root(arguments):
    if "--root" in arguments:
        return os.path.abspath(os.path.expanduser(arguments[arguments.index("--root") + 1]))
    return os.path.abspath(os.path.expanduser(os.environ.get("SHIV_ROOT") or default_root() or "~/.shiv"))


def _size(directory):
    files = 0
    total = 0
    for folder, _, names in os.walk(directory):
        for name in names:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
                files += 1
            except OSError:
                pass
    return files, total


def _in_use(path):
    marker = os.path.join(path, IN_USE_NAME)
    if not os.path.exists(marker):
        return False
    descriptor = _extract._lock_if_free(marker)
    if descriptor is None:
        return True
    os.close(descriptor)
    return False


def _entries(root):
    """Extraction directories `<app>_<build id>` (pyz's and shiv's), newest first per app."""
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    entries = []
    for name in names:
        path = os.path.join(root, name)
        if "." in name or "_" not in name or not os.path.isdir(path) or os.path.islink(path):
            continue
        app, build_id = name.rsplit("_", 1)
        if not app or not os.path.isdir(os.path.join(path, SITE_PACKAGES)):
            continue
        manifest = os.path.join(path, MANIFEST_NAME)
        stamp = os.stat(manifest if os.path.exists(manifest) else path).st_mtime
        files, size = _size(os.path.join(path, SITE_PACKAGES))
        entries.append(
            {
                "name": name,
                "path": path,
                "app": app,
                "buildId": build_id,
                "files": files,
                "bytes": size,
                "lastUsed": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp)),
                "mtime": stamp,
                "inUse": _in_use(path),
                "complete": cache_state(path, build_id, full=True) == "complete",
                "pyz": os.path.exists(manifest),
            }
        )
    return entries


def list_cache(arguments):
    root = _root(arguments)
    return {"root": root, "entries": [{k: v for k, v in entry.items() if k != "mtime"} for entry in _entries(root)]}


def prune_cache(arguments):
    """Remove extractions no process uses: all but the newest of each app by default, every one
    with --all, or those extracted more than --older-than seconds ago. Leftover `.tmp`/`.old`
    directories and lock files of every app go too (the runtime's clean_up)."""
    root = _root(arguments)
    everything = "--all" in arguments
    dry_run = "--dry-run" in arguments
    older_than = float(arguments[arguments.index("--older-than") + 1]) if "--older-than" in arguments else None
    now = time.time()
    removed, kept_in_use, freed = [], [], 0
    newest = {}
    entries = _entries(root)
    for entry in entries:
        if entry["app"] not in newest or entry["mtime"] > newest[entry["app"]]["mtime"]:
            newest[entry["app"]] = entry
    for entry in entries:
        if older_than is not None:
            doomed = now - entry["mtime"] > older_than
        else:
            doomed = everything or entry is not newest[entry["app"]]
        if not doomed:
            continue
        if entry["inUse"]:
            kept_in_use.append(entry["path"])
            continue
        if dry_run:
            removed.append(entry["path"])
            freed += entry["bytes"]
            continue
        lock = _extract._lock_if_free(os.path.join(root, "%s.lock" % entry["name"]), create=True)
        if lock is None:
            kept_in_use.append(entry["path"])  # being extracted right now
            continue
        try:
            _extract._remove_if_unused(entry["path"], root, entry["app"], entry["buildId"])
        finally:
            os.close(lock)
        if os.path.exists(entry["path"]):
            kept_in_use.append(entry["path"])
        else:
            removed.append(entry["path"])
            freed += entry["bytes"]
    if not dry_run and older_than is None:
        for app in newest:
            keep = newest[app]["buildId"] if os.path.exists(newest[app]["path"]) else ""
            _extract.clean_up(root, app, keep)
    return {"root": root, "removed": removed, "keptInUse": kept_in_use, "freedBytes": freed}


def main(arguments):
    if not arguments or arguments[0] not in ("list", "prune"):
        sys.stderr.write("usage: manage list|prune [--root DIR] [--all] [--older-than SECONDS] [--dry-run]\n")
        return 2
    result = list_cache(arguments[1:]) if arguments[0] == "list" else prune_cache(arguments[1:])
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0
