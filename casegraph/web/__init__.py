"""Stage web (not built yet)."""
