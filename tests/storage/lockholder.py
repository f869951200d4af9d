"""Another process holding SQLite's write lock on a file: `BEGIN EXCLUSIVE` in a `python -c` child, open until the
test releases it or, at the latest, until `limit_s` seconds have passed.

The limit turns "the writer waited for the lock instead of giving up" into an observable outcome instead of a
timed assertion: a test that sees the expected reaction (a `StoreUnavailable`, a spooled batch) while the holder
still holds the lock, and then releases it, gets "asked" back from `release()`; a writer that waited the lock out
gets "limit". Keep the limit below Python's default busy timeout of 10 s (what the store waited before issue 13)
and well above the store's `LOCK_WAIT_S`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_HOLDER = """
import select, sqlite3, sys

db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
asked, _, _ = select.select([sys.stdin], [], [], float(sys.argv[2]))
db.execute("ROLLBACK")
db.close()
print("released", "asked" if asked else "limit", flush=True)
"""


class LockHolder:
    """Started holding the lock (the constructor returns once the child has it)."""

    def __init__(self, path: Path, limit_s: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(path), str(limit_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline().strip()
        if first != "locked":
            _, err = self.process.communicate(timeout=10)
            raise AssertionError(f"the lock holder did not get the lock on {path}: {first!r} {err.strip()!r}")

    @property
    def holding(self) -> bool:
        """True while the child holds the lock (it lets go only when asked or at its limit, then exits)."""
        return self.process.poll() is None

    def release(self) -> str:
        """Let go of the lock; return "asked" if it was still held until now, "limit" if the child had let go by
        itself because its limit passed."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write("release\n")
            self.process.stdin.flush()
        except BrokenPipeError:  # it had already let go at its limit and exited
            pass
        out, err = self.process.communicate(timeout=10)
        words = out.split()  # "released asked" or "released limit" ("locked" was read by the constructor)
        if self.process.returncode != 0 or len(words) != 2 or words[0] != "released":
            raise AssertionError(f"the lock holder failed (exit {self.process.returncode}): {out!r} {err.strip()!r}")
        return words[-1]

    def close(self) -> None:
        """Make sure the child is gone (a test that failed before releasing)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=10)
