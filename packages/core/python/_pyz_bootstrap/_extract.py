"""pyz runtime, cold path: extraction, repair, locking and clean-up of the cache.

Imported only when the cache is missing, damaged, forced (SHIV_FORCE_EXTRACT / always_write_cache)
or when there is something to clean up, so its imports (shutil, compileall, ...) never weigh on a
warm start. Reading and extracting the payload itself is in `_unzip`. See the package docstring
for the cache layout.
"""
import os
import stat
import sys
import time

from . import (
    IN_USE_NAME,
    LAYOUT,
    LISTING_NAME,
    FILE_SIGNALS_NAME,
    MANIFEST_NAME,
    SITE_PACKAGES,
    BootstrapError,
    _acquire_in_use,
    cache_state,
    extraction_safety,
    verify_files,
    fallback_root,
    parse_json,
    submodule,
)

_unzip = submodule("_unzip")

try:
    import fcntl
except ImportError:  # Windows: msvcrt locking, best effort (SPEC §6)
    fcntl = None

# Files that imports need: their directories are checked on every warm start (cache_state).
CODE_SUFFIXES = (".py", ".so", ".pyd", ".pth")
# https://bford.info/cachedir/ : the signature must start the file, byte for byte.
CACHEDIR_TAG = (
    b"Signature: 8a477f597d28d172789f06886806bc55\n"
    b"# This file is a cache directory tag created by pyz (shiv-compatible runtime cache).\n"
    b"# For information about cache directory tags, see: https://bford.info/cachedir/\n"
)


def _token():
    return os.urandom(4).hex()


def _warn(message, fix):
    sys.stderr.write("pyz: warning: %s\n  fix: %s\n" % (message, fix))


# ---------------------------------------------------------------------------------------- locks


def _same_file(descriptor, path):
    try:
        current = os.stat(path)
    except OSError:
        return False
    locked = os.fstat(descriptor)
    return (current.st_dev, current.st_ino) == (locked.st_dev, locked.st_ino)


def _try_exclusive(descriptor):
    if fcntl is not None:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False
    import msvcrt

    try:
        msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        return True
    except OSError:
        return False


class BuildLock:
    """Exclusive lock on `<stem>_<build_id>.lock` with a bounded wait.

    shiv's lock waits forever; here the wait ends after SHIV_LOCK_TIMEOUT seconds with an error
    naming the file. The kernel drops a flock when its holder dies (even by SIGKILL), so the lock
    file itself is never stale; clean-up may unlink one for a build that is gone, hence the
    identity check after locking (we must hold the file that is at the path, not an unlinked one).
    Created 0600: never world-writable.
    """

    def __init__(self, path, timeout):
        self.path = path
        self.timeout = timeout
        self.descriptor = None

    def __enter__(self):
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            while not _try_exclusive(descriptor):
                if time.monotonic() >= deadline:
                    os.close(descriptor)
                    raise BootstrapError(
                        "LOCK_TIMEOUT",
                        "waited %g s for the cache lock %s" % (self.timeout, self.path),
                        "another process is extracting this app; if none is, raise "
                        "SHIV_LOCK_TIMEOUT or delete %s" % self.path,
                    )
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
            if _same_file(descriptor, self.path):
                self.descriptor = descriptor
                return self
            os.close(descriptor)  # unlinked by a clean-up meanwhile: lock the new file

    def __exit__(self, *exception):
        os.close(self.descriptor)  # closing the last descriptor releases the flock
        self.descriptor = None


def _lock_if_free(path, create=False):
    """Descriptor holding an exclusive lock on the file, or None if busy (or absent, unless create)."""
    try:
        flags = os.O_RDONLY if fcntl is not None and not create else os.O_RDWR
        descriptor = os.open(path, flags | (os.O_CREAT if create else 0), 0o600)
    except OSError:
        return None
    if _try_exclusive(descriptor):
        return descriptor
    os.close(descriptor)
    return None


# ----------------------------------------------------------------------------------------- root


def _write_cachedir_tag(root):
    tag = os.path.join(root, "CACHEDIR.TAG")
    if os.path.exists(tag):
        return
    temporary = "%s.%d.%s.tmp" % (tag, os.getpid(), _token())
    with open(temporary, "wb") as handle:
        handle.write(CACHEDIR_TAG)
    os.replace(temporary, tag)


def _prepare_root(root, private):
    os.makedirs(root, 0o700, exist_ok=True)
    if private:
        # A directory under a shared /tmp that someone else made for us would let them swap our
        # code: it must be ours, a real directory, and closed to group and others.
        status = os.lstat(root)
        uid = os.getuid() if hasattr(os, "getuid") else status.st_uid
        if not stat.S_ISDIR(status.st_mode) or status.st_uid != uid or status.st_mode & 0o077:
            raise BootstrapError(
                "CACHE_UNSAFE",
                "fallback cache directory %s is not a private directory owned by uid %s" % (root, uid),
                "remove %s, or set SHIV_ROOT to a directory of your own" % root,
            )
    _write_cachedir_tag(root)


def _why_no_home():
    """Why os.path.expanduser("~") found no home (default_root gave None), for the warning."""
    home = os.environ.get("HOME")
    if home is None:
        uid = os.getuid() if hasattr(os, "getuid") else None
        return "HOME is not set and uid %s has no passwd entry" % uid if uid is not None else "HOME is not set"
    if not home:
        return "HOME is empty"
    return "HOME=%r is not an absolute path" % home


def _choose_root(environment, roots, may_fall_back, directory_name):
    """The first usable root; with the default root, a private fallback when HOME is unusable."""
    for root in roots:
        try:
            _prepare_root(root, private=False)
            # Proves we can create files there (the lock) before any extraction starts.
            os.close(os.open(os.path.join(root, directory_name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600))
            return root
        except OSError as error:
            if not may_fall_back:
                raise BootstrapError(
                    "CACHE_NOT_WRITABLE", "cannot use cache root %s: %s" % (root, error.strerror or error),
                    "set SHIV_ROOT to a writable directory",
                )
            reason = "cannot use %s (%s)" % (root, error.strerror or error)
            break
    else:
        reason = "no home directory (%s)" % _why_no_home()
    root = fallback_root()
    _warn(
        "%s; extracting to the private directory %s instead" % (reason, root),
        "make HOME a writable directory, or set SHIV_ROOT",
    )
    try:
        _prepare_root(root, private=True)
    except OSError as error:
        raise BootstrapError(
            "CACHE_NOT_WRITABLE", "cannot use fallback cache root %s: %s" % (root, error.strerror or error),
            "set SHIV_ROOT to a writable directory",
        )
    return root


# ------------------------------------------------------------------------------------ extraction


def _walk_directories(site_packages):
    """(relative dir, names) for every directory but __pycache__ (Python writes those later)."""
    for directory, subdirectories, names in os.walk(site_packages):
        subdirectories[:] = [name for name in subdirectories if name != "__pycache__"]
        relative = os.path.relpath(directory, site_packages).replace(os.sep, "/")
        yield ("" if relative == "." else relative), sorted(subdirectories + names)


def manifest_plan(listing):
    """(directories, how many of them hold code, file paths, listing as JSON): all of the
    manifest that does not depend on the extraction, so a first run works it out while the
    workers extract. Directories holding code first: every warm start checks those
    (cache_state), the others in a sample. The root always counts as code (top-level packages,
    .pth files). Files follow their directories; a name that is a key of the listing is a
    directory."""
    code = sorted(relative for relative, names in listing.items() if not relative or any(name.endswith(CODE_SUFFIXES) for name in names))
    ordered = code + sorted(set(listing).difference(code))
    paths = []
    for relative in ordered:
        for name in listing[relative]:
            path = relative + "/" + name if relative else name
            if path not in listing:
                paths.append(path)
    return ordered, len(code), paths, to_json(listing)


def write_manifest(extraction_dir, build_id, listing=None, signals=None, plan=None):
    """Listing first, manifest last: a manifest on disk means everything before it was written.

    `listing` ({directory: names}, from the extraction plan) spares a walk over every file,
    `signals` ({path: (size, mtime_ns)}, from extract_payload) a stat of every file, and `plan`
    (manifest_plan of the listing) the sorting and the listing's JSON; the directory mtimes are
    read now, after any compile_pyc run has added its __pycache__ dirs.
    """
    site_packages = os.path.join(extraction_dir, SITE_PACKAGES)
    if listing is None:
        listing = dict(_walk_directories(site_packages))
    ordered, code_count, paths, listing_text = plan or manifest_plan(listing)
    directories = []
    if os.stat in os.supports_dir_fd:
        # Relative to an open site-packages: the kernel walks a short path (thousands of stats).
        descriptor = os.open(site_packages, os.O_RDONLY)
        try:
            for relative in ordered:
                directories.append([relative, os.stat(relative or ".", dir_fd=descriptor).st_mtime_ns])
        finally:
            os.close(descriptor)
    else:
        for relative in ordered:
            path = os.path.join(site_packages, relative) if relative else site_packages
            directories.append([relative, os.stat(path).st_mtime_ns])
    # Size and mtime of every file as "size mtime_ns path" lines, code files first, checked off
    # the critical path of each warm start, a bounded slice at a time (verify_files, on a
    # thread): an in-place truncation or edit moves no directory mtime. `signals` (the
    # extractor's fstat of each file it wrote) spares an lstat per file here.
    lines = []
    signals = signals or {}
    for path in paths:
        known = signals.get(path)
        if known is not None and known[1]:
            lines.append("%d %d %s\n" % (known[0], known[1], path))
            continue
        try:
            status = os.lstat(os.path.join(site_packages, path.replace("/", os.sep)))
        except OSError:
            continue
        if stat.S_ISREG(status.st_mode):
            lines.append("%d %d %s\n" % (status.st_size, status.st_mtime_ns, path))
    with open(os.path.join(extraction_dir, LISTING_NAME), "w") as handle:
        handle.write(listing_text)
    with open(os.path.join(extraction_dir, FILE_SIGNALS_NAME), "w", encoding="utf-8", newline="\n") as handle:
        handle.write("".join(lines))
    _write_json_atomically(
        os.path.join(extraction_dir, MANIFEST_NAME),
        {"layout": LAYOUT, "build_id": build_id, "code_directories": code_count, "directories": directories},
    )


def _json_error(value):
    raise TypeError("%r is not JSON serializable" % (value,))


def to_json(value):
    """json.dumps(value, separators=(",", ":")) without importing json.

    `import json` costs ~5 ms (it imports re), a noticeable part of a first run. The C encoder
    json.dumps uses (_json.make_encoder, same arguments on CPython 3.8-3.13) needs no Python
    module; parse_json does the same for reading.
    """
    try:
        import _json

        encoder = _json.make_encoder(None, _json_error, _json.encode_basestring_ascii, None, ":", ",", False, False, True)
        return "".join(encoder(value, 0))
    except (ImportError, AttributeError, TypeError):
        import json

        return json.dumps(value, separators=(",", ":"))


def _write_json_atomically(path, value):
    temporary = "%s.%d.%s" % (path, os.getpid(), _token())
    with open(temporary, "w") as handle:
        handle.write(to_json(value))
    os.replace(temporary, path)


def revalidate(extraction_dir):
    """Some directory mtime moved: 'complete' if every expected name is still there, else 'missing'.

    Python itself moves mtimes by creating __pycache__ directories after extraction; then the new
    mtimes are recorded (best effort) so the next start is cheap again. Added files are tolerated.
    """
    try:
        with open(os.path.join(extraction_dir, MANIFEST_NAME)) as handle:
            manifest = parse_json(handle.read())
        with open(os.path.join(extraction_dir, LISTING_NAME)) as handle:
            listing = parse_json(handle.read())
    except (OSError, ValueError):
        return "missing"
    site_packages = os.path.join(extraction_dir, SITE_PACKAGES)
    updated = []
    changed = False
    for relative, mtime in manifest.get("directories", ()):
        path = os.path.join(site_packages, relative) if relative else site_packages
        try:
            current = os.stat(path).st_mtime_ns
            if current != mtime:
                present = set(os.listdir(path))
                if any(name not in present for name in listing.get(relative, ())):
                    return "missing"
                changed = True
        except OSError:
            return "missing"
        updated.append([relative, current])
    if changed:
        manifest["directories"] = updated
        try:
            _write_json_atomically(os.path.join(extraction_dir, MANIFEST_NAME), manifest)
        except OSError:
            pass  # read-only cache: still complete, just re-checked next time
    return "complete"


def _compile(site_packages, workers):
    import compileall

    # quiet=2: like shiv, a file that does not compile (py2-only test files in some wheels) is
    # not an error; it is simply imported from source.
    compileall.compile_dir(site_packages, quiet=2, workers=workers)


def _state(extraction_dir, build_id):
    state = cache_state(extraction_dir, build_id, full=True)
    if state == "changed":
        state = revalidate(extraction_dir)
    if state == "complete" and verify_files(extraction_dir) is not None:
        return "missing"  # a file truncated or edited in place: re-extract
    return state


def ensure_extracted(environment, roots, may_fall_back, stem, directory_name):
    """Extract (or repair, or force a fresh copy of) the payload; return its site-packages.

    Under the build lock: re-check (another process may have finished meanwhile), delete our own
    stale temporaries (only the lock holder extracts, so any .tmp of this build is a leftover of a
    killed run), extract into `<name>.<pid>.<hex>.tmp`, compile, write the manifest last, then swap
    the new copy into place atomically (_swap_in); the previous one becomes `.old`, deleted once
    no process holds it in use.
    """
    root = _choose_root(environment, roots, may_fall_back, directory_name)
    final = os.path.join(root, directory_name)
    with BuildLock(os.path.join(root, directory_name + ".lock"), environment.lock_timeout):
        safety = extraction_safety(final)
        if safety not in ("safe", "missing"):
            _move_aside_unsafe(final, safety, os.path.join(root, "%s.%d.%s.old" % (directory_name, os.getpid(), _token())))
        reuse = not environment.force_extract and _state(final, environment.build_id) == "complete"
        if not reuse:
            _remove_own_temporaries(root, directory_name)
            token = "%d.%s" % (os.getpid(), _token())
            temporary = os.path.join(root, "%s.%s.tmp" % (directory_name, token))
            os.mkdir(temporary, 0o700)
            try:
                site_packages = os.path.join(temporary, SITE_PACKAGES)
                signals = {}
                plans = []  # worked out while the workers extract
                listing = _unzip.extract_payload(
                    environment.archive, environment.payload, site_packages, signals=signals,
                    during=lambda listing: plans.append(manifest_plan(listing)))
                if environment.compile_pyc:
                    _compile(site_packages, environment.compile_workers)
                write_manifest(temporary, environment.build_id, listing, signals, plans[0] if plans else None)
                os.close(os.open(os.path.join(temporary, IN_USE_NAME), os.O_WRONLY | os.O_CREAT, 0o600))
            except BaseException:
                _remove_tree(temporary)  # a refused or failed extraction leaves nothing behind
                raise
            _swap_in(temporary, final, os.path.join(root, "%s.%s.old" % (directory_name, token)))
        # We hold the build lock, so nobody can swap it away before we hold it in use.
        if not _acquire_in_use(final):
            raise BootstrapError(
                "CACHE_INVALID", "extracted cache %s vanished" % final,
                "check that nothing else deletes files under %s" % root,
            )
    clean_up(root, stem, environment.build_id)
    return os.path.join(final, SITE_PACKAGES)


def _move_aside_unsafe(path, why, aside):
    """Rename an unsafe entry at the extraction path (a symlink, a file, another user's directory)
    to a `.old` name: rename acts on the link itself, never on its target, and clean_up unlinks
    such an entry (or deletes the directory once unused). Refused when it cannot be moved."""
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        pass  # gone meanwhile
    except OSError as error:
        raise BootstrapError(
            "CACHE_UNSAFE",
            "the cache directory %s %s and cannot be moved aside (%s)" % (path, why, error.strerror or error),
            "remove %s (it is not a copy this user extracted), or set SHIV_ROOT to a directory of your own" % path,
        )
    _warn("the cache directory %s %s; moved it aside and extracting a fresh copy" % (path, why),
          "nothing to do; if this recurs, check who else writes to %s" % os.path.dirname(path))


# ------------------------------------------------------------------------------------------ swap

RENAME_EXCHANGE = 2  # <linux/fs.h>
AT_FDCWD = -100
_renameat2 = []  # [function or None], looked up once


def _exchange(first, second):
    """Atomically exchange two existing paths (Linux renameat2 RENAME_EXCHANGE); False if the
    system has no such call (macOS, glibc < 2.28, filesystems without support, not Linux)."""
    if not _renameat2:
        function = None
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                function = ctypes.CDLL(None, use_errno=True).renameat2
                function.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
                function.restype = ctypes.c_int
            except (ImportError, OSError, AttributeError):
                function = None
        _renameat2.append(function)
    function = _renameat2[0]
    if function is None:
        return False
    import ctypes

    if function(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE) == 0:
        return True
    number = ctypes.get_errno()
    import errno

    if number in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # kernel < 3.15 or a filesystem without RENAME_EXCHANGE: fall back
    raise OSError(number, os.strerror(number), second)


def _swap_in(temporary, final, old):
    """Put the complete copy at `temporary` in place of `final` (SPEC §3: atomically).

    On Linux one renameat2(RENAME_EXCHANGE) swaps both names, so `final` never stops existing for
    a process that opens files under it lazily; the previous copy then sits at `temporary` and is
    renamed to `old`, deleted by clean_up once no process holds it in use. Where there is no
    exchange (macOS, glibc < 2.28, some filesystems), two renames: final -> old, temporary ->
    final, with a window of a few microseconds in which `final` does not exist. A running process
    keeps importing by the cache path, which after the swap names the new copy of the same build
    (same content); files it already opened stay valid in the old one.
    """
    if os.path.lexists(final):
        if _exchange(temporary, final):
            os.rename(temporary, old)
            return
        os.rename(final, old)
    os.rename(temporary, final)


# -------------------------------------------------------------------------------------- clean-up


def _remove_tree(path):
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _remove_own_temporaries(root, directory_name):
    prefix = directory_name + "."
    for name in os.listdir(root):
        if name.startswith(prefix) and name.endswith(".tmp"):
            _remove_tree(os.path.join(root, name))


def _parse_entry(name, stem):
    """Split a root entry of this app into (build_id, kind) or None.

    kind: 'dir' (<stem>_<id>), 'lock' (<stem>_<id>.lock), 'tmp' / 'old' (<stem>_<id>.<pid>.<hex>.*).
    Build ids with '_' are not recognised, so `app` never touches the entries of an app `app_x`.
    """
    prefix = stem + "_"
    if not name.startswith(prefix):
        return None
    rest = name[len(prefix):]
    if "_" in rest or not rest:
        return None
    parts = rest.split(".")
    if len(parts) == 1:
        return parts[0], "dir"
    if len(parts) == 2 and parts[1] == "lock":
        return parts[0], "lock"
    if len(parts) == 4 and parts[1].isdigit() and parts[3] in ("tmp", "old"):
        return parts[0], parts[3]
    return None


def clean_up(root, stem, build_id):
    """Remove what no process needs any more (shiv keeps everything forever):

    - `.old` copies (swapped out) once no process holds their in-use lock;
    - other builds of this app, once neither extracting (build lock) nor in use (in-use lock);
    - `.tmp` dirs whose build lock is free (their extractor died);
    - lock files of builds that are gone.
    Only directories pyz made (with a manifest) are deleted as old builds: shiv's are left alone.
    """
    try:
        names = os.listdir(root)
    except OSError:
        return
    entries = {}
    for name in names:
        parsed = _parse_entry(name, stem)
        if parsed:
            entries[name] = parsed
    for name, (build, kind) in sorted(entries.items()):
        path = os.path.join(root, name)
        lock_path = os.path.join(root, "%s_%s.lock" % (stem, build))
        if kind == "old":
            _remove_if_unused(path, root, stem, build)
        elif kind == "tmp":
            descriptor = _lock_if_free(lock_path, create=True)
            if descriptor is not None:
                try:
                    _remove_tree(path)
                finally:
                    os.close(descriptor)
        elif kind == "dir" and build != build_id:
            if not os.path.exists(os.path.join(path, MANIFEST_NAME)):
                continue
            descriptor = _lock_if_free(lock_path, create=True)
            if descriptor is not None:
                try:
                    _remove_if_unused(path, root, stem, build)
                finally:
                    os.close(descriptor)
    # Lock files last, against a fresh listing: the loop above may have removed their builds.
    try:
        remaining = [_parse_entry(name, stem) for name in os.listdir(root)]
    except OSError:
        return
    present_builds = set(parsed[0] for parsed in remaining if parsed and parsed[1] in ("dir", "tmp", "old"))
    for name, (build, kind) in sorted(entries.items()):
        path = os.path.join(root, name)
        if kind == "lock" and build != build_id and build not in present_builds:
            descriptor = _lock_if_free(path)
            if descriptor is not None:
                try:
                    os.unlink(path)  # lockers check they hold the file at the path (BuildLock)
                except OSError:
                    pass
                finally:
                    os.close(descriptor)


def _remove_if_unused(path, root, stem, build):
    try:
        status = os.lstat(path)
    except OSError:
        return
    if not stat.S_ISDIR(status.st_mode):
        # A symlink or file moved aside (_move_aside_unsafe): unlink the entry itself, never
        # anything it points to. Anything else under a build name is not ours to touch.
        if path.endswith(".old"):
            try:
                os.unlink(path)
            except OSError:
                pass
        return
    in_use = _lock_if_free(os.path.join(path, IN_USE_NAME))
    if in_use is None and os.path.exists(os.path.join(path, IN_USE_NAME)):
        return  # a live process holds it shared
    try:
        # Rename first so that no process can find it any more, then delete at leisure; a process
        # blocked on our exclusive lock sees the path gone and looks again (_acquire_in_use).
        doomed = os.path.join(root, "%s_%s.%d.%s.old" % (stem, build, os.getpid(), _token()))
        if not path.endswith(".old"):
            try:
                os.rename(path, doomed)
            except OSError:
                return
            path = doomed
    finally:
        if in_use is not None:
            os.close(in_use)
    _remove_tree(path)


# ------------------------------------------------------------------------------------- no_modify


def ensure_not_modified(site_packages, hashes):
    """shiv's --no-modify: refuse to run when an extracted file differs from its build-time hash.

    Every file listed in `hashes` is re-hashed (sha256) on every start, plus any .py file that is
    not listed (code added to the cache). This costs time proportional to the payload: it is the
    price of the option, which is off by default.
    """
    import hashlib

    problems = []
    for relative, expected in sorted(hashes.items()):
        path = os.path.join(site_packages, *relative.split("/"))
        try:
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
            if digest.hexdigest() != expected:
                problems.append("%s (changed)" % relative)
        except OSError:
            problems.append("%s (missing)" % relative)
    for relative, names in _walk_directories(site_packages):
        for name in names:
            if name.endswith(".py"):
                candidate = relative + "/" + name if relative else name
                if candidate not in hashes:
                    problems.append("%s (added)" % candidate)
    if problems:
        raise BootstrapError(
            "CACHE_MODIFIED",
            "the extracted files of this no-modify app were modified: %s%s"
            % (", ".join(problems[:5]), " ..." if len(problems) > 5 else ""),
            "run once with SHIV_FORCE_EXTRACT=1 to restore a pristine copy of %s" % site_packages,
        )
