"""The Flask application: a JSON API plus the frontend that the bundler put in myapp/static."""

import os
import platform
import sys

from importlib import metadata

from flask import Flask, jsonify, send_from_directory

try:
    from importlib.resources import files as _resource_files  # Python >= 3.9
except ImportError:  # Python 3.8
    _resource_files = None

# The greeting the frontend fetches from /api/greeting.
GREETING = "Hello from Flask"


def static_dir():
    """Directory of the frontend files (index.html, assets/...).

    The bundler plugin packs them under myapp/static inside the .pyz; the runtime extracts the
    dependencies to a real directory (~/.shiv/...), so the package's resources are plain files.
    """
    if _resource_files is not None:
        return str(_resource_files(__package__) / "static")
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")


def create_app():
    app = Flask(__name__, static_folder=static_dir(), static_url_path="")

    @app.get("/api/greeting")
    def greeting():
        return jsonify(
            message=GREETING,
            flask=metadata.version("flask"),
            python=platform.python_version(),
            served_from=os.path.basename(sys.argv[0]) or None,
        )

    @app.get("/")
    def index():
        return send_from_directory(app.static_folder, "index.html")

    return app
