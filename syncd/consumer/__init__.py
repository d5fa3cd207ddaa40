"""The reading side: ``syncd watch``, the reference consumer of the snapshot files."""
