"""Seeds of an exercise: one class seed, one derived seed per student (so answers differ but reproduce).

The derivation is a hash, not a random draw: the lecturer who knows the class seed and the student id gets the
same seed, on any machine and in any Python version (SHA-256 of "class seed/student id", first 31 bits).
"""

from __future__ import annotations

import hashlib

#: The class seed when none is given.
DEFAULT_CLASS_SEED = 2026


def student_seed(class_seed: int, student: str | None) -> int:
    """The seed of one student's data: the class seed itself when there is no student."""
    if not student:
        return class_seed
    digest = hashlib.sha256(f"{class_seed}/{student}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFF_FFFF
