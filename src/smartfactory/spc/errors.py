"""The SPC engine's exception, `SpcError`, as the SPC modules import it.

It is defined in the one exception tree (`smartfactory.errors`, pure like this package): a `ValueError` and a
`SmartfactoryError`, so the CLI's friendly error handler catches it. Messages say what was wrong and what to do
instead; `smartfactory spc analyze` turns it into a usage error. Import it as `smartfactory.spc.SpcError`.
"""

from __future__ import annotations

from smartfactory.errors import SpcError

__all__ = ["SpcError"]
