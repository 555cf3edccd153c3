"""Serve the workspace over one store for the benchmark (uvicorn, loopback), as `casegraph serve` does."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import uvicorn

    from casegraph.api import create_app
    from casegraph.settings import load_settings

    settings = load_settings()
    settings.store.path = args.store
    app = create_app(settings)
    print(f"/login?token={app.state.signin.link_token}", flush=True)  # as `casegraph serve` prints it
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
