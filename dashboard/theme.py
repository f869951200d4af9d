"""The dashboard's colour language and projector mode (pure: no Streamlit import).

One meaning, one colour, on every page and in both light and dark themes:

- machine states: running green, idle amber, setup blue, down red, planned grey, unknown violet;
- control charts: the statistic in the neutral trace colour, centre line green, 3σ limits red (dashed),
  zone bands (inside 1σ green, 1σ-2σ amber, 2σ-3σ red, all faint), rule violations red markers with a
  dark outline, the phase I window a grey band;
- alarms: active red, acknowledged amber, cleared grey.

Colours are mid-saturation so they read on a white and on a near-black background alike. The control chart's
colours are those of its renderer (`smartfactory.query.figures`), shared with `smartfactory spc analyze --plot`.
"""

from __future__ import annotations

from typing import Any

STATE_COLORS: dict[str, str] = {
    "running": "#2e9e44",
    "idle": "#e0a800",
    "setup": "#2f7ed8",
    "down": "#d63a3a",
    "planned": "#8c8c8c",
    "unknown": "#9467bd",
}
#: Streamlit's markdown colour names for the same states (`:green-background[RUNNING]`).
STATE_BADGES: dict[str, str] = {
    "running": "green",
    "idle": "orange",
    "setup": "blue",
    "down": "red",
    "planned": "gray",
    "unknown": "violet",
}
STATE_ORDER = ("running", "idle", "setup", "down", "planned", "unknown")

SPEC = "#7b3fbf"
TREND = "#2f7ed8"
TREND_BAND = "rgba(47,126,216,0.2)"
LOSS_COLORS = {
    "breakdowns": STATE_COLORS["down"],
    "setup & adjustments": STATE_COLORS["setup"],
    "small stops": STATE_COLORS["idle"],
    "reduced speed": "#8c6d31",
    "start-up rejects": "#b58ce0",
    "production rejects": "#7b3fbf",
}
ALARM_ACTIVE = "red"
ALARM_ACKED = "orange"
ALARM_CLEARED = "gray"

NORMAL_FONT = 13
PROJECTOR_FONT = 20


def state_color(state: str | None) -> str:
    return STATE_COLORS.get(state or "unknown", STATE_COLORS["unknown"])


def state_badge(state: str | None, reason: str | None = None) -> str:
    """Markdown for a coloured state pill, e.g. `:red-background[**DOWN** · breakdown]`."""
    name = state or "unknown"
    colour = STATE_BADGES.get(name, STATE_BADGES["unknown"])
    text = f"**{name.upper()}**" + (f" · {reason}" if reason else "")
    return f":{colour}-background[{text}]"


def font_size(projector: bool) -> int:
    return PROJECTOR_FONT if projector else NORMAL_FONT


def layout(projector: bool, *, height: int, **extra: Any) -> dict[str, Any]:
    """Common plotly layout: transparent background (the Streamlit theme shows through), readable fonts."""
    size = font_size(projector)
    out: dict[str, Any] = {
        "height": int(height * (1.25 if projector else 1.0)),
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "font": {"size": size},
        "hoverlabel": {"font": {"size": size}},
        "legend": {"font": {"size": size}},  # vertical, right of the plot: never on top of titles or data
    }
    out.update(extra)
    return out


def projector_css(projector: bool) -> str:
    """Extra CSS for projector mode: larger text everywhere (Streamlit's own theme option needs a restart)."""
    if not projector:
        return ""
    return (
        "<style>"
        "[data-testid='stAppViewContainer'] [data-testid='stMarkdownContainer'] p { font-size: 1.25rem; }"
        "[data-testid='stMetricLabel'] [data-testid='stMarkdownContainer'] p { font-size: 1.3rem; }"
        "[data-testid='stMetricValue'] [data-testid='stMarkdownContainer'] p { font-size: 3.4rem; line-height: 1.2; }"
        "[data-testid='stCaptionContainer'] { font-size: 1.05rem; }"
        "</style>"
    )
