# pyz entry module (PEP 441: the interpreter runs __main__.py of a zip given as its script).
# zipimport has no .pyc for this file, so it is compiled from source on every start: keep it tiny.
# The runtime finds the archive through its own import location, never through sys.argv[0].
import os
import sys


def load_once(name, loader, origin, package_directory=None):
    """Import module `name` with zipimporter `loader` (`origin`: its path in the archive),
    compiling its source once. A plain import from a zip compiles it twice on CPython 3.8-3.13:
    importlib first asks the loader for the file name (zipimporter.get_filename compiles the
    module to find it), then for the code. That is 2-4 ms per bootstrap module on every start."""
    spec = sys.modules["_frozen_importlib"].ModuleSpec(name, loader, origin=origin, is_package=package_directory is not None)
    spec.has_location = True
    module = type(sys)(name)
    module.__spec__ = spec
    module.__loader__ = loader
    module.__file__ = origin
    if package_directory is None:
        module.__package__ = name.rpartition(".")[0]
    else:
        module.__package__ = name
        module.__path__ = spec.submodule_search_locations = [package_directory]
    sys.modules[name] = module
    try:
        exec(loader.get_code(name), module.__dict__)
    except BaseException:
        del sys.modules[name]
        raise
    return module


if hasattr(__loader__, "archive"):  # run from the archive (else from an unpacked tree: plain import)
    _directory = os.path.join(__loader__.archive, "_pyz_bootstrap")
    _pyz_bootstrap = load_once("_pyz_bootstrap", __loader__, os.path.join(_directory, "__init__.py"), _directory)
    _pyz_bootstrap.load_once = load_once
else:
    import _pyz_bootstrap

_pyz_bootstrap.run()
