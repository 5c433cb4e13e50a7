"""pyz runtime: interpreter mode, console scripts and preambles (imported only when used)."""
import os
import sys

from . import BootstrapError, call_entry_point


def _fresh_main_module():
    """A clean __main__ for -c / stdin code, as python gives it (pickling of its classes works)."""
    import types

    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = module
    return module.__dict__


def _run_source(source, filename):
    namespace = _fresh_main_module()
    namespace["__file__"] = filename if filename != "<string>" else None
    if namespace["__file__"] is None:
        del namespace["__file__"]
    exec(compile(source, filename, "exec", dont_inherit=True), namespace)


def interpreter():
    """Interpreter mode (no entry point, or SHIV_INTERPRETER on) with the deps importable.

    Arguments mean what they mean to `python`: `-c CODE`, `-m MODULE`, `-` (stdin), `PATH`, or
    nothing (a REPL on a terminal, else the program read from stdin, as python does). sys.argv is
    what python would give the program: ['-c', ...], [module path, ...], ['-', ...], [PATH, ...].
    """
    import runpy

    arguments = sys.argv[1:]
    if not arguments:
        if sys.stdin is not None and sys.stdin.isatty():
            import code

            sys.argv = [""]
            code.interact()
            return
        arguments = ["-"]
    first = arguments[0]
    if first.startswith("-c"):
        source = first[2:] or (arguments[1] if len(arguments) > 1 else None)
        rest = arguments[1:] if first[2:] else arguments[2:]
        if source is None:
            sys.stderr.write("Argument expected for the -c option\n")
            sys.exit(2)
        sys.argv = ["-c"] + rest
        _run_source(source, "<string>")
    elif first.startswith("-m"):
        module = first[2:] or (arguments[1] if len(arguments) > 1 else None)
        rest = arguments[1:] if first[2:] else arguments[2:]
        if module is None:
            sys.stderr.write("Argument expected for the -m option\n")
            sys.exit(2)
        sys.argv = [module] + rest  # runpy replaces [0] by the module's file, like python -m
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    elif first == "-":
        sys.argv = arguments
        _run_source(sys.stdin.read(), "<stdin>")
    else:
        sys.argv = arguments
        if not os.path.exists(first):
            sys.stderr.write("%s: can't open file %r: [Errno 2] No such file or directory\n" % (sys.executable, first))
            sys.exit(2)
        runpy.run_path(first, run_name="__main__")


def _console_scripts(site_packages):
    """(dist-info dir, mapping of name -> 'module:attr') from every entry_points.txt."""
    import configparser

    try:
        entries = sorted(os.listdir(site_packages))
    except OSError:
        return
    for entry in entries:
        if not (entry.endswith(".dist-info") or entry.endswith(".egg-info")):
            continue
        path = os.path.join(site_packages, entry, "entry_points.txt")
        if not os.path.isfile(path):
            continue
        # PyPA entry points spec: an INI file, '=' delimiters, case-sensitive names.
        parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
        parser.optionxform = str
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error:
            continue
        if parser.has_section("console_scripts"):
            yield entry, dict(parser.items("console_scripts"))


def run_console_script(name, site_packages):
    """SHIV_CONSOLE_SCRIPT / -c NAME: `bin/NAME` like shiv, else the [console_scripts] entry point
    of an installed distribution (shiv only looks in bin/, which pip --target may not write).

    sys.argv[0] stays the path the user ran (shiv makes it the cache path of the script) so that
    usage messages name the command the user typed. Returning normally exits 0.
    """
    script = os.path.join(site_packages, "bin", name)
    if os.path.isfile(script):
        # Not runpy.run_path: it would set sys.argv[0] to the script's cache path.
        with open(script, "rb") as handle:
            source = handle.read()
        _run_source(source, script)
        sys.exit(0)
    for _distribution, scripts in _console_scripts(site_packages):
        if name in scripts:
            value = scripts[name].split("[", 1)[0].strip()  # drop "[extras]"
            module_name, _separator, attribute_path = value.partition(":")
            if not attribute_path:
                import runpy

                runpy.run_module(module_name.strip(), run_name="__main__", alter_sys=True)
                sys.exit(0)
            sys.exit(call_entry_point(module_name.strip(), attribute_path.strip()))
    raise BootstrapError(
        "CONSOLE_SCRIPT_NOT_FOUND",
        "console script %r is neither %s nor in the [console_scripts] of an installed distribution"
        % (name, script),
        "check the name (SHIV_CONSOLE_SCRIPT or --console-script), or use SHIV_ENTRY_POINT=module:function",
    )


def run_preamble(environment, site_packages):
    """The --preamble file under site-packages/bin runs before the entry point (shiv semantics).

    A .py preamble runs in this process with `archive` (the .pyz path), `env` (the Environment)
    and `site_packages` (pathlib.Path) in its globals. Anything else runs as an executable; shiv
    ignores its exit status, here a failure stops start-up with that status.
    """
    path = os.path.join(site_packages, "bin", environment.preamble)
    if not os.path.isfile(path):
        raise BootstrapError(
            "PREAMBLE_NOT_FOUND", "preamble %s is missing from the cache" % path,
            "run once with SHIV_FORCE_EXTRACT=1, or rebuild with a valid --preamble",
        )
    if path.endswith(".py"):
        import runpy
        from pathlib import Path

        runpy.run_path(
            path,
            init_globals={"archive": environment.archive, "env": environment, "site_packages": Path(site_packages)},
            run_name="__main__",
        )
        return
    import subprocess

    try:
        status = subprocess.call([path])
    except OSError as error:
        raise BootstrapError(
            "PREAMBLE_FAILED", "cannot run preamble %s: %s" % (path, error),
            "make the preamble executable with a valid #! line, or use a .py preamble",
        )
    if status != 0:
        sys.stderr.write("pyz: error: PREAMBLE_FAILED: preamble %s exited with status %d\n" % (path, status))
        # A signal (negative status) maps to 128 + signal, as a shell reports it.
        sys.exit(status if status > 0 else 128 - status)
