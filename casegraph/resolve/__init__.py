"""Stage resolve (not built yet)."""
