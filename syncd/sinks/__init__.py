"""The output side: atomic file replacement and the JSON snapshot files."""
