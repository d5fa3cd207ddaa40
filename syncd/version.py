"""The version of syncd (a leaf: every layer may import it)."""

__version__ = "0.1.0"
