"""Static assets and templates of the analyst workspace (no Python logic)."""
