"""pyz full-stack example: Flask serves a JSON API and the Vite-built frontend."""

__version__ = "0.1.0"
