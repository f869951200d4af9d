"""The one exception of the SPC engine.

``SpcError`` derives from ``ValueError``: every failure of this pure package is a problem with the numbers it
was given (too few points, a subgroup of size 1 on an X̄-R chart, a negative count …). Messages say what was
wrong and what to do instead. The CLI turns it into a ``click.UsageError``.
"""

from __future__ import annotations


class SpcError(ValueError):
    """Invalid input for a control chart, a rule set or a capability study."""
