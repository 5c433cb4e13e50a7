"""Entry point of app.pyz: serve the Flask app with gunicorn.

Environment: PORT (default 8000), HOST (default 127.0.0.1), WEB_CONCURRENCY (workers, default 2).
"""

import os
import sys

from gunicorn.app.base import BaseApplication

from myapp.app import create_app


class _Server(BaseApplication):
    """Runs gunicorn from Python instead of the `gunicorn` command, so the .pyz needs no script."""

    def __init__(self, application, options):
        self._application = application
        self._options = options
        super().__init__()

    def load_config(self):
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        return self._application


def main():
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
    print("myapp: serving on http://%s:%d/" % (host, port), file=sys.stderr, flush=True)
    _Server(create_app(), {"bind": "%s:%d" % (host, port), "workers": workers, "accesslog": "-"}).run()
    return 0
