"""Stage api (not built yet)."""
