"""Stage linkage (not built yet)."""
