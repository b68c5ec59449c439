"""Offline commands: read a file, call the domain functions, write the result (no database)."""
