"""Deprecation warnings for the module paths that issue 11's reorganisation moved (kept for one release)."""

from __future__ import annotations

import warnings


def warn_moved(old: str, new: str) -> None:
    """Warn once per import that module ``old`` is now ``new`` and that the old path goes in the next release."""
    warnings.warn(
        f"{old} moved to {new}; import from {new} (the old path goes in chipfleet 0.3).",
        DeprecationWarning,
        stacklevel=3,
    )
