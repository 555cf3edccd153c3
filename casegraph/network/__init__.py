"""Stage network (not built yet)."""
