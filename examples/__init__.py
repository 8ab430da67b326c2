"""Example websvc plugins and apps (importable from the repository root)."""
