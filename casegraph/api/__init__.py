"""The analyst workspace over HTTP: `create_app(settings)` serves the JSON API (OpenAPI at /api/openapi.json)
and the web UI, every request signed in and passed through the safeguards."""

from casegraph.api.app import create_app
from casegraph.api.auth import Signer, load_secret, user_token

__all__ = ["Signer", "create_app", "load_secret", "user_token"]
