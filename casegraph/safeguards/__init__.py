"""Stage safeguards (not built yet)."""
