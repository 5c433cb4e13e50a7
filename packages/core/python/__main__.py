# pyz entry module (PEP 441: the interpreter runs __main__.py of a zip given as its script).
# zipimport has no .pyc for this file, so it is compiled from source on every start: keep it tiny.
# The runtime finds the archive through its own import location, never through sys.argv[0].
import _pyz_bootstrap

_pyz_bootstrap.run()
