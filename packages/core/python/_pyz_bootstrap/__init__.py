"""pyz runtime: the warm path of every start of an app.pyz (stdlib only, CPython 3.8-3.13).

zipimport compiles this file from source on every start (the archive holds no .pyc), and everything
imported here is paid on every start. So this module only reads environment.json, checks the cache
cheaply, puts it on sys.path and runs the entry point. Extraction, repair and clean-up live in
`_extract` (imported only when needed), interpreter mode, console scripts and preambles in `_modes`.

Cache layout under the root (default `~/.shiv`, shiv's naming so `pyz cache` and users find it):
    CACHEDIR.TAG                          https://bford.info/cachedir/ (backup tools skip the root)
    <stem>_<build_id>/site-packages/      the extracted payload, on sys.path
    <stem>_<build_id>/.pyz-manifest.json  written last: build id + mtime of every directory
                                          (those holding code first: see cache_state)
    <stem>_<build_id>/.pyz-listing.json   names expected in every directory (read on repair)
    <stem>_<build_id>/.pyz-files          size + mtime of every file (a slice checked on a thread)
    <stem>_<build_id>/.pyz-in-use         every running process holds a shared flock on it
    <stem>_<build_id>.lock                exclusive flock while extracting or swapping
    <stem>_<build_id>.<pid>.<hex>.tmp     an extraction in progress (stale once its lock is free)
    <stem>_<build_id>.<pid>.<hex>.old     a copy swapped out, deleted once nobody uses it
"""
import os
import sys

LAYOUT = 1
ENVIRONMENT_NAME = "environment.json"
PAYLOAD_NAME = "site-packages.zip"
MANIFEST_NAME = ".pyz-manifest.json"
LISTING_NAME = ".pyz-listing.json"
# "size mtime_ns path" per file, code files first: what verify_files checks, a slice at a time.
FILE_SIGNALS_NAME = ".pyz-files"
# Bytes of FILE_SIGNALS_NAME one warm start checks (~700 files): an app that small is checked
# whole on every start; a larger one a random slice per start, so the cost stays flat.
VERIFY_BYTES = 48 * 1024
IN_USE_NAME = ".pyz-in-use"
SITE_PACKAGES = "site-packages"
# Status of every start-up error of the runtime (the app's own statuses are its business).
ERROR_EXIT_STATUS = 70
# Directories without code checked per warm start (see cache_state): ~0.3 ms of stats.
DATA_SAMPLE = 128
# How long a warm start waits for verify_files before running the app (seconds): small apps are
# verified before any of their code is imported; larger ones finish on the thread meanwhile.
VERIFY_WAIT = 0.004

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")

# The shared flock on .pyz-in-use lives as long as the process: kept here so it is never closed.
_in_use_descriptors = []

# __main__.py's load_once, set when the archive runs (None when imported from an unpacked tree).
load_once = None


def submodule(name):
    """`from . import <name>`, compiled once when running from the archive (see load_once in
    __main__.py): _extract and _unzip alone would otherwise cost ~6 ms more on a first run."""
    full_name = __name__ + "." + name
    module = sys.modules.get(full_name)
    if module is None:
        if load_once is None:
            __import__(full_name)  # an unpacked tree: a plain import (with bytecode caching)
            return sys.modules[full_name]
        directory = os.path.dirname(__file__)
        module = load_once(full_name, type(__loader__)(directory), os.path.join(directory, name + ".py"))
        setattr(sys.modules[__name__], name, module)
    return module


class _JsonContext:
    # The attributes _json.make_scanner reads from a json.JSONDecoder (CPython Modules/_json.c).
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # "NaN", "Infinity", "-Infinity"
    memo = {}


def parse_json(text):
    """json.loads for the warm path without importing `json`.

    `import json` pulls in `re` (json.decoder compiles its number and string patterns), then enum,
    functools and collections: about half of the bootstrap's start-up cost. The C scanner of
    `_json` (which json.loads uses too) only needs an object with the decoder's attributes.
    """
    try:
        import _json

        scanner = _json.make_scanner(_JsonContext)
    except (ImportError, AttributeError):  # an interpreter without the C accelerator
        import json

        return json.loads(text)
    text = text.strip(" \t\r\n")
    try:
        value, end = scanner(text, 0)
    except StopIteration:
        raise ValueError("not a JSON document")
    if end != len(text):
        raise ValueError("extra data after the JSON document at offset %d" % end)
    return value


class BootstrapError(Exception):
    """A start-up failure the user can fix: printed as `pyz: error: CODE: message` + `fix:`."""

    def __init__(self, code, message, fix):
        Exception.__init__(self, message)
        self.code = code
        self.message = message
        self.fix = fix


def parse_boolean(name, value):
    """Booleans of environment.json and of SHIV_* variables.

    shiv treats every unknown word as false and so `SHIV_INTERPRETER=0` turned interpreter mode
    *on* (it only tested whether the variable was set): here 0/false/no/off mean off and anything
    else is an error naming the variable.
    """
    if value is None or isinstance(value, bool):
        return bool(value)
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise BootstrapError(
        "INVALID_BOOLEAN",
        "%s=%r is not a boolean" % (name, value),
        "set %s to one of 1/true/yes/on or 0/false/no/off" % name,
    )


def _boolean_setting(variable, build_value):
    """A runtime variable overrides the build-time value (shiv's Environment properties)."""
    if variable in os.environ:
        return parse_boolean(variable, os.environ[variable])
    return parse_boolean(variable, build_value)


class Environment:
    """environment.json (shiv's keys + ours) combined with the SHIV_* runtime variables."""

    def __init__(self, data, archive):
        self.data = data
        self.archive = archive
        self.build_id = data.get("build_id")
        if not self.build_id:
            raise BootstrapError(
                "ARCHIVE_INVALID", "environment.json of %s has no build_id" % archive,
                "rebuild the archive with pyz build",
            )
        self.always_write_cache = bool(data.get("always_write_cache"))
        self.hashes = data.get("hashes") or {}
        self.no_modify = bool(data.get("no_modify"))
        self.preamble = data.get("preamble")
        self.payload = data.get("payload") or PAYLOAD_NAME
        # SHIV_ENTRY_POINT wins over its older alias SHIV_MODULE (shiv's order); a runtime choice
        # of entry point or console script wins over both build-time values.
        runtime_entry_point = os.environ.get("SHIV_ENTRY_POINT") or os.environ.get("SHIV_MODULE")
        runtime_script = os.environ.get("SHIV_CONSOLE_SCRIPT")
        if runtime_entry_point:
            self.entry_point, self.script = runtime_entry_point, None
        elif runtime_script:
            self.entry_point, self.script = None, runtime_script
        else:
            self.entry_point, self.script = data.get("entry_point"), data.get("script")
        self.interpreter = _boolean_setting("SHIV_INTERPRETER", False)
        # shiv: always_write_cache is the default of SHIV_FORCE_EXTRACT.
        self.force_extract = _boolean_setting("SHIV_FORCE_EXTRACT", self.always_write_cache)
        self.compile_pyc = _boolean_setting("SHIV_COMPILE_PYC", data.get("compile_pyc", False))
        self.extend_pythonpath = _boolean_setting("SHIV_EXTEND_PYTHONPATH", data.get("extend_pythonpath", False))
        # shiv 1.0.7 (PR #254): a path list (os.pathsep-separated) put in front of sys.path.
        self.prepend_pythonpath = os.environ.get("SHIV_PREPEND_PYTHONPATH", data.get("prepend_pythonpath"))
        workers = os.environ.get("SHIV_COMPILE_WORKERS", "0")
        try:
            self.compile_workers = int(workers)
            if self.compile_workers < 0:
                raise ValueError(workers)
        except ValueError:
            raise BootstrapError(
                "INVALID_NUMBER", "SHIV_COMPILE_WORKERS=%r is not a whole number >= 0" % workers,
                "set SHIV_COMPILE_WORKERS to 0 (one per CPU) or a positive number",
            )
        timeout = os.environ.get("SHIV_LOCK_TIMEOUT", "300")
        try:
            self.lock_timeout = float(timeout)
        except ValueError:
            raise BootstrapError(
                "INVALID_NUMBER", "SHIV_LOCK_TIMEOUT=%r is not a number of seconds" % timeout,
                "set SHIV_LOCK_TIMEOUT to a number of seconds, e.g. 300",
            )
        self.root_setting = os.environ.get("SHIV_ROOT") or data.get("root")

    def __getitem__(self, key):
        # Preambles written for shiv read attributes; dict-style access also works.
        return self.data[key]


def expand_root(value):
    """`--root '$VAR/x'` / `${VAR}` / `~` expanded at run time.

    os.path.expandvars leaves an unset `$VAR` in place, and shiv then extracts into a directory
    literally named `$VAR` under the current directory: an unset variable is an error here.
    (Hand-written rather than `re` to keep the import off the warm path.)
    """
    result = []
    index = 0
    length = len(value)
    while index < length:
        character = value[index]
        if character != "$":
            result.append(character)
            index += 1
            continue
        if value.startswith("${", index):
            end = value.find("}", index)
            if end < 0:
                raise BootstrapError(
                    "ROOT_INVALID", "cache root %r has an unterminated ${" % value,
                    "close the variable reference: ${NAME}",
                )
            name = value[index + 2:end]
            index = end + 1
        else:
            end = index + 1
            while end < length and (value[end].isalnum() or value[end] == "_"):
                end += 1
            name = value[index + 1:end]
            if not name:
                result.append("$")
                index += 1
                continue
            index = end
        if name not in os.environ:
            raise BootstrapError(
                "ROOT_VARIABLE_UNSET",
                "cache root %r uses $%s, which is not set" % (value, name),
                "export %s=<directory>, or set SHIV_ROOT to a directory" % name,
            )
        result.append(os.environ[name])
    return os.path.abspath(os.path.expanduser("".join(result)))


def archive_path():
    """The .pyz we run from, from the import location of this package (zipimporter.archive).

    sys.argv[0] is not reliable: it can be rewritten by a caller, a relative path after chdir, or
    a symlink name; the loader knows the real file it read this module from.
    """
    loader = globals().get("__loader__")
    archive = getattr(loader, "archive", None)
    if archive:
        return os.path.abspath(archive)
    # Run from an unpacked tree (tests of the bootstrap itself): the parent of the package dir.
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_environment(archive):
    loader = globals().get("__loader__")
    try:
        if hasattr(loader, "archive"):
            # zipimporter.get_data wants the archive path exactly as the loader spells it.
            data = loader.get_data(os.path.join(loader.archive, ENVIRONMENT_NAME))
        else:
            with open(os.path.join(archive, ENVIRONMENT_NAME), "rb") as handle:
                data = handle.read()
        return parse_json(data.decode("utf-8"))
    except (OSError, ValueError) as error:
        raise BootstrapError(
            "ARCHIVE_INVALID", "cannot read %s from %s: %s" % (ENVIRONMENT_NAME, archive, error),
            "rebuild the archive with pyz build",
        )


def archive_stem(archive):
    # shiv names the cache after Path(archive).stem: "app.pyz" -> "app_<build_id>".
    name = os.path.basename(archive)
    dot = name.rfind(".")
    return name[:dot] if dot > 0 else name


def default_root():
    """`~/.shiv`, or None when there is no usable home directory (HOME unset, no passwd entry)."""
    home = os.path.expanduser("~")
    if not home or home == "~" or not os.path.isabs(home):
        return None
    return os.path.join(home, ".shiv")


def fallback_root():
    """A private per-user directory used when ~/.shiv cannot be created or written."""
    import tempfile  # only when HOME is unusable; costs a few ms

    uid = os.getuid() if hasattr(os, "getuid") else os.getpid()
    return os.path.join(tempfile.gettempdir(), "pyz-%s" % uid)


def _acquire_in_use(extraction_dir):
    """Hold a shared flock on <extraction_dir>/.pyz-in-use for the life of the process.

    Clean-up deletes an extraction only after taking an exclusive non-blocking flock on the same
    file, so a copy some process imports from is never removed. After locking, the file must still
    be the one at the path: a swap (SHIV_FORCE_EXTRACT, repair) may have moved the directory aside
    between our open() and flock(); then we report "not there" and the caller looks again.
    """
    path = os.path.join(extraction_dir, IN_USE_NAME)
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        import fcntl  # builtin extension module: cheap
    except ImportError:  # Windows: files in use cannot be deleted there anyway
        _in_use_descriptors.append(descriptor)
        return True
    fcntl.flock(descriptor, fcntl.LOCK_SH)
    try:
        current = os.stat(path)
    except OSError:
        current = None
    locked = os.fstat(descriptor)
    if current is None or (current.st_dev, current.st_ino) != (locked.st_dev, locked.st_ino):
        os.close(descriptor)
        return False
    _in_use_descriptors.append(descriptor)
    return True


def _release_in_use():
    while _in_use_descriptors:
        os.close(_in_use_descriptors.pop())


def cache_state(extraction_dir, build_id, full=False):
    """'complete', 'missing', or 'changed' (some directory mtime moved: needs a closer look).

    A file added to or removed from a directory changes that directory's mtime (POSIX), so one
    stat per directory notices deletions anywhere; a file truncated or edited in place is not
    noticed (no_modify's hashes catch that). `__pycache__` directories are not recorded: Python
    writes them after extraction.

    Cost is bounded whatever the archive size (SPEC §3): a stat costs ~2 µs, and a payload can
    have thousands of directories (Django's locale tree alone: ~2,300). Every start checks the
    directories that hold code (.py/.so/.pth: what imports need; the manifest lists them first,
    `code_directories` of them) and a window of DATA_SAMPLE of the others at a random offset, so
    a deletion among data files is noticed within a few starts (each start sees a given data
    directory with probability DATA_SAMPLE / their number). `full` checks every directory
    (repair, `pyz cache list`).
    """
    try:
        with open(os.path.join(extraction_dir, MANIFEST_NAME), "rb") as handle:
            manifest = parse_json(handle.read().decode("utf-8"))
    except (OSError, ValueError):
        return "missing"
    if not isinstance(manifest, dict) or manifest.get("build_id") != build_id or manifest.get("layout") != LAYOUT:
        return "missing"
    directories = manifest.get("directories") or ()
    code = manifest.get("code_directories")
    if not isinstance(code, int) or not 0 <= code <= len(directories):
        code = len(directories)  # a manifest of an older pyz: check everything
    data = len(directories) - code
    if not full and data > DATA_SAMPLE:
        start = code + int.from_bytes(os.urandom(4), "little") % data
        end = start + DATA_SAMPLE
        wrapped = end - len(directories)
        directories = directories[:code] + directories[start:end] + (directories[code:code + wrapped] if wrapped > 0 else [])
    site_packages = os.path.join(extraction_dir, SITE_PACKAGES)
    prefix = site_packages + os.sep
    state = "complete"
    for relative, mtime in directories:
        try:
            status = os.stat(prefix + relative if relative else site_packages)
        except OSError:
            return "missing"
        if status.st_mtime_ns != mtime:
            state = "changed"
    return state


def extraction_safety(extraction_dir):
    """'safe', 'missing', or why the path must not be used (one lstat, never follows a link).

    Anyone who can write to the cache root could plant a symlink at the extraction path (we would
    import their code, and a repair would write through it), or leave a directory of their own
    there (they could change its files while we run): both are moved aside and re-extracted
    (_extract.ensure_extracted), or refused with CACHE_UNSAFE when they cannot be moved.
    """
    try:
        status = os.lstat(extraction_dir)
    except OSError:  # absent, or a root that is not a directory / not searchable: look elsewhere
        return "missing"
    mode = status.st_mode
    if mode & 0o170000 == 0o120000:
        return "is a symbolic link"
    if mode & 0o170000 != 0o040000:
        return "is not a directory"
    if hasattr(os, "getuid") and status.st_uid != os.getuid():
        return "is owned by uid %d, not by uid %d" % (status.st_uid, os.getuid())
    return "safe"


def verify_files(extraction_dir, budget=None):
    """None if the checked files have the size and mtime recorded at extraction, else a
    description of the first that does not. Checks at most `budget` bytes of the record
    (VERIFY_BYTES; None: everything), from a random offset: constant work per start whatever the
    app size; small apps are checked whole every time, large ones a slice per start."""
    path = os.path.join(extraction_dir, FILE_SIGNALS_NAME)
    try:
        with open(path, "rb") as handle:
            total = os.fstat(handle.fileno()).st_size
            if budget is None or total <= budget:
                chunk = handle.read()
            else:
                start = int.from_bytes(os.urandom(4), "little") % (total - budget + 1)
                handle.seek(start)
                chunk = handle.read(budget)
                if start > 0:  # drop the partial first line
                    chunk = chunk[chunk.find(b"\n") + 1:]
                chunk = chunk[: chunk.rfind(b"\n") + 1]
    except OSError:
        return None  # an extraction by an older pyz: nothing recorded
    prefix = os.path.join(extraction_dir, SITE_PACKAGES) + os.sep
    stat = os.stat
    separator = os.sep
    for line in chunk.decode("utf-8").splitlines():
        size, mtime, relative = line.split(" ", 2)
        try:
            status = stat(prefix + (relative if separator == "/" else relative.replace("/", separator)))
        except OSError:
            return "%s is missing" % relative
        if status.st_size != int(size):
            return "%s has %d bytes, expected %s" % (relative, status.st_size, size)
        if status.st_mtime_ns != int(mtime):
            return "%s was modified" % relative
    return None


def _verify_in_background(extraction_dir):
    """Check every cached file's size and mtime on a thread (SPEC §3: warm cost stays flat).

    The start waits at most VERIFY_WAIT for it: if damage is found by then, returns False and the
    caller repairs before any app code is imported. Found later, the warning is printed and the
    manifest removed, so the next start re-extracts and swaps a fresh copy in; this start goes
    on with what it already imports (for a large app, damaged code may run this once).
    `_thread` rather than `threading` keeps the import cost off the warm path; such a thread
    does not hold up interpreter exit (a daemon thread).
    """
    import _thread

    done = _thread.allocate_lock()
    done.acquire()
    guard = _thread.allocate_lock()
    outcome = {}

    def worker():
        try:
            problem = verify_files(extraction_dir, VERIFY_BYTES)
        except Exception as error:  # never disturb the app from here
            problem = None
        with guard:
            outcome["problem"] = problem
            late = outcome.get("late")
        if late and problem is not None:
            _report_damage(extraction_dir, problem)
        done.release()

    try:
        _thread.start_new_thread(worker, ())
    except RuntimeError:  # no threads (e.g. at interpreter shutdown): check inline
        return verify_files(extraction_dir, VERIFY_BYTES) is None
    done.acquire(True, VERIFY_WAIT)
    with guard:
        outcome["late"] = True
        if "problem" not in outcome:
            return True  # still running: it reports by itself
    return outcome["problem"] is None


def _report_damage(extraction_dir, problem):
    try:
        sys.stderr.write("pyz: warning: cache damaged (%s in %s); it will be repaired on the next start\n" % (problem, extraction_dir))
        sys.stderr.flush()
    except Exception:
        pass
    try:
        os.unlink(os.path.join(extraction_dir, MANIFEST_NAME))
    except OSError:
        pass


def _first_site_directory_index():
    # shiv places its site-packages before the first site-packages/dist-packages entry: after the
    # standard library (so a stale backport cannot shadow it, shiv #51), before system packages.
    for index, entry in enumerate(sys.path):
        if os.path.basename(entry.rstrip("/\\")) in ("site-packages", "dist-packages"):
            return index
    return len(sys.path)


def activate(environment, site_packages):
    """Put site_packages on sys.path the way shiv does, so .pth files work (site.addsitedir)."""
    import site  # already imported at start-up unless python -S

    length = len(sys.path)
    index = _first_site_directory_index()
    before = set(sys.path)
    site.addsitedir(site_packages)
    added = sys.path[length:]
    sys.path[:] = sys.path[:index] + added + sys.path[index:length]
    new_paths = [entry for entry in added if entry not in before]
    if environment.prepend_pythonpath:
        prepended = [entry for entry in str(environment.prepend_pythonpath).split(os.pathsep) if entry]
        sys.path[:0] = prepended
    if environment.extend_pythonpath:
        # Only the paths we added (shiv PR #229): the interpreter's own sys.path in PYTHONPATH
        # would break a subprocess running another Python version.
        existing = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
        combined = []
        for entry in existing + new_paths:
            if entry not in combined:
                combined.append(entry)
        os.environ["PYTHONPATH"] = os.pathsep.join(combined)


def locate_cache(environment):
    """Find (or make) a complete extraction; return its site-packages directory."""
    stem = archive_stem(environment.archive)
    directory_name = "%s_%s" % (stem, environment.build_id)
    if environment.root_setting:
        roots = [expand_root(environment.root_setting)]
        may_fall_back = False
    else:
        home_root = default_root()
        roots = [home_root] if home_root else []
        may_fall_back = True
    if not environment.force_extract:
        candidates = list(roots)
        if may_fall_back:
            candidates.append(None)  # fallback_root(), computed only if reached
        for root in candidates:
            if root is None:
                root = fallback_root()
            extraction_dir = os.path.join(root, directory_name)
            safety = extraction_safety(extraction_dir)
            if safety == "missing":
                continue
            if safety != "safe":
                break  # a symlink, a file or another user's directory: moved aside under the lock
            if not _acquire_in_use(extraction_dir):
                continue
            state = cache_state(extraction_dir, environment.build_id)
            if state == "changed":
                _extract = submodule("_extract")

                state = _extract.revalidate(extraction_dir)
            # no_modify apps re-hash every file anyway (and refuse rather than repair).
            if state == "complete" and (environment.no_modify or _verify_in_background(extraction_dir)):
                _extract_cleanup_if_needed(root, stem, environment.build_id)
                return os.path.join(extraction_dir, SITE_PACKAGES)
            _release_in_use()
            break  # present but damaged: repair it where it is
    _extract = submodule("_extract")

    return _extract.ensure_extracted(environment, roots, may_fall_back, stem, directory_name)


def _extract_cleanup_if_needed(root, stem, build_id):
    """Older builds of this app, swapped-out copies and stale leftovers go away (shiv: never).

    Listing the root costs one readdir of a directory holding one entry per cached app, and the
    clean-up module is imported only when there is something of this app besides our own entries.
    """
    try:
        names = os.listdir(root)
    except OSError:
        return
    own = ("%s_%s" % (stem, build_id), "%s_%s.lock" % (stem, build_id))
    prefix = stem + "_"
    for name in names:
        if name.startswith(prefix) and name not in own and "_" not in name[len(prefix):]:
            _extract = submodule("_extract")

            _extract.clean_up(root, stem, build_id)
            return


def report(error):
    sys.stderr.write("pyz: error: %s: %s\n  fix: %s\n" % (error.code, error.message, error.fix))


def run():
    """Entry function called by __main__.py."""
    try:
        archive = archive_path()
        environment = Environment(read_environment(archive), archive)
        site_packages = locate_cache(environment)
        if environment.no_modify:
            _extract = submodule("_extract")

            _extract.ensure_not_modified(site_packages, environment.hashes)
        activate(environment, site_packages)
        if environment.preamble:
            _modes = submodule("_modes")

            _modes.run_preamble(environment, site_packages)
    except BootstrapError as error:
        report(error)
        sys.exit(ERROR_EXIT_STATUS)
    run_application(environment, site_packages)


def run_application(environment, site_packages):
    """Dispatch to the entry point, the console script or interpreter mode.

    Exit status follows sys.exit(): a function's return value None -> 0, int -> itself, anything
    else printed to stderr -> 1; SystemExit raised by the app propagates unchanged.
    """
    if environment.interpreter or not (environment.entry_point or environment.script):
        _modes = submodule("_modes")

        _modes.interpreter()
        return
    if environment.script:
        _modes = submodule("_modes")

        try:
            _modes.run_console_script(environment.script, site_packages)
        except BootstrapError as error:
            report(error)
            sys.exit(ERROR_EXIT_STATUS)
        return
    entry_point = environment.entry_point
    module_name, separator, attribute_path = entry_point.partition(":")
    if not separator:
        # `-e pkg.mod`: run the module as __main__ (python -m). shiv exits 1 here after dumping
        # the module's globals; a module that returns normally exits 0 like `python -m` does.
        import runpy

        runpy.run_module(module_name.strip(), run_name="__main__", alter_sys=True)
        sys.exit(0)
    sys.exit(call_entry_point(module_name.strip(), attribute_path.strip()))


def call_entry_point(module_name, attribute_path):
    import importlib

    module = importlib.import_module(module_name)
    target = module
    for attribute in attribute_path.split("."):
        target = getattr(target, attribute)
    return target()
