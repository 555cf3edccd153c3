"""The analyst workspace over HTTP: `create_app(settings)` serves the JSON API (OpenAPI at /api/openapi.json)
and the web UI; every request comes from a signed-in session and is in the audit log."""

from casegraph.api.app import create_app
from casegraph.api.auth import SignIn

__all__ = ["SignIn", "create_app"]
