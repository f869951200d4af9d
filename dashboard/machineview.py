"""The Machine page's model (pure: no Streamlit): the trends to draw, part measurements, time per state."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from smartfactory.model import PartResult


def part_measurements(parts: Sequence[PartResult]) -> dict[str, pd.DataFrame]:
    """Per characteristic (sorted by name): a frame of `ts` (UTC) and `value`, one row per measured part."""
    names = sorted({name for p in parts for name in p.measurements})
    out: dict[str, pd.DataFrame] = {}
    for name in names:
        measured = [p for p in parts if name in p.measurements]
        out[name] = pd.DataFrame(
            {
                "ts": pd.to_datetime([p.ts_ms for p in measured], unit="ms", utc=True),
                "value": [p.measurements[name] for p in measured],
            }
        )
    return out


def state_minutes(segments: pd.DataFrame) -> pd.DataFrame:
    """Minutes per (state, reason) in clipped state segments, largest first."""
    if segments.empty:
        return pd.DataFrame(columns=["state", "reason", "minutes"])
    minutes = segments.assign(
        minutes=(segments["end_ms"] - segments["start_ms"]) / 60_000,
        reason=[r if isinstance(r, str) and r else "—" for r in segments["reason"]],  # never "None" or "nan"
    )
    table = pd.DataFrame(minutes.groupby(["state", "reason"], as_index=False)["minutes"].sum())
    return table.sort_values(by="minutes", ascending=False).reset_index(drop=True)
