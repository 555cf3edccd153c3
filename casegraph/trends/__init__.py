"""Stage trends (not built yet)."""
