"""Programs that use a deployed stack the way its downstream clients do (importable, so tests can run them)."""
