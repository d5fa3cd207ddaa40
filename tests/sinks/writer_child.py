"""Child process for the kill test: rewrites a file forever, alternating two complete contents.

Usage: python writer_child.py PATH SIZE. Prints one line per completed write so the parent can
wait for progress instead of sleeping.
"""

import sys
from pathlib import Path

from syncd.sinks.atomic import write_atomic


def contents(size: int) -> tuple[bytes, bytes]:
    """Two contents of the same length that differ everywhere, so any mix is detectable."""
    return (b"A" * (size - 1) + b"\n", b"B" * (size - 1) + b"\n")


def main() -> None:
    path = Path(sys.argv[1])
    versions = contents(int(sys.argv[2]))
    n = 0
    while True:
        write_atomic(path, versions[n % 2])
        n += 1
        print(n, flush=True)


if __name__ == "__main__":
    main()
