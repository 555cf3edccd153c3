"""One thin router per area of the workspace; each view of the web UI reads the same JSON."""

from casegraph.api.routes import alerts, incidents, linkage, meta, people

ROUTERS = (meta.router, incidents.router, linkage.router, people.router, alerts.router)
