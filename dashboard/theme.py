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

import plotly.graph_objects as go

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


def scale_fonts(fig: go.Figure, projector: bool) -> go.Figure:
    """Every text of a figure at the mode's size: tick labels and titles of every axis (subplots too), subplot
    titles and line labels (annotations), the title. Plotly's `layout.font` alone does not reach them: the
    Streamlit theme and `make_subplots` set their own sizes."""
    size = font_size(projector)
    fig.update_xaxes(tickfont_size=size, title_font_size=size)
    fig.update_yaxes(tickfont_size=size, title_font_size=size)
    fig.update_annotations(font_size=size)
    fig.update_layout(title_font_size=size + 3)
    return fig


#: The overview's tiles: at least this wide (rem), as many side by side as fit; larger in projector mode.
TILE_MIN_REM = 22.0
PROJECTOR_TILE_MIN_REM = 26.0
#: A reading in a tile: its cell at least this wide (rem), its value at most this large (rem).
READING_MIN_REM, READING_MAX_FONT_REM = 9.5, 1.75
PROJECTOR_READING_MIN_REM, PROJECTOR_READING_MAX_FONT_REM = 15.0, 2.6
#: Width of one character of a reading relative to the font size, with a margin (Source Sans: digits 0.51 em,
#: lower-case letters 0.45-0.8 em): the value's font is capped at cell width / (characters × this).
CHAR_EM = 0.62
#: Keys of the overview's per-line tile containers start with this (Streamlit gives them a `st-key-…` class).
TILES_KEY = "sf_tiles_"


def page_css(projector: bool) -> str:
    """The page's style sheet: values are never cut off, tiles wrap to the width, projector mode enlarges text.

    Streamlit cuts a metric's value and label that do not fit with an ellipsis; here they wrap at spaces
    instead (between a number and its unit), and so do the cells of tables. The overview lays its tiles out as
    a grid of as many columns as fit (`TILE_MIN_REM`), and a tile's readings likewise; each reading's value is
    as large as its cell allows, up to `READING_MAX_FONT_REM` (a CSS container query: `100cqi` is the cell's
    width). Sizes are in rem, so Streamlit's large-font mode (`--theme.baseFontSize`) scales them and the number
    of columns with them. Projector mode (a per-viewer toggle; Streamlit's own font option needs a restart)
    enlarges the text."""
    tile = PROJECTOR_TILE_MIN_REM if projector else TILE_MIN_REM
    cell = PROJECTOR_READING_MIN_REM if projector else READING_MIN_REM
    big = PROJECTOR_READING_MAX_FONT_REM if projector else READING_MAX_FONT_REM
    label = "1.15rem" if projector else "0.875rem"
    rules = [
        # wide layout: less empty margin beside the content, so more of the screen carries numbers
        "[data-testid='stMainBlockContainer'] { padding-left: 2rem; padding-right: 2rem; padding-top: 3rem; }",
        # metrics: wrap instead of an ellipsis
        "[data-testid='stMetricValue'] [data-testid='stMarkdownContainer'],"
        " [data-testid='stMetricLabel'] [data-testid='stMarkdownContainer'] {"
        " white-space: normal; overflow: visible; text-overflow: clip; }",
        "[data-testid='stMetricValue'] p, [data-testid='stMetricLabel'] p { white-space: normal; }",
        "[data-testid='stMetricDelta'] * { white-space: normal; overflow: visible; text-overflow: clip; }",
        # tables (the alarms): cells and headings wrap at spaces, so a table fits its column's width
        "[data-testid='stTable'] th, [data-testid='stTable'] td { white-space: normal; }",
        # the overview: tiles in a grid of as many columns as fit
        f"[class*='st-key-{TILES_KEY}'] {{ display: grid !important;"
        f" grid-template-columns: repeat(auto-fill, minmax(min(100%, {tile}rem), 1fr)); gap: 1rem; }}",
        f"[class*='st-key-{TILES_KEY}'] > * {{ min-width: 0; width: auto !important; }}",
        # a tile's readings
        f".sf-readings {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, {cell}rem), 1fr));"
        " gap: 0.6rem 1rem; margin: 0.25rem 0 0.75rem 0; }",
        ".sf-reading { container-type: inline-size; min-width: 0; }",
        f".sf-label {{ font-size: {label}; line-height: 1.3; opacity: 0.8; overflow-wrap: anywhere; }}",
        ".sf-mark { color: #d63a3a; }",
        f".sf-value {{ font-size: min({big}rem, calc(100cqi / (var(--sf-chars) * {CHAR_EM})));"
        " line-height: 1.25; white-space: nowrap; font-variant-numeric: tabular-nums; }",
    ]
    if projector:
        rules += [
            "[data-testid='stAppViewContainer'] [data-testid='stMarkdownContainer'] p { font-size: 1.25rem; }",
            "[data-testid='stMetricLabel'] [data-testid='stMarkdownContainer'] p { font-size: 1.3rem; }",
            "[data-testid='stMetricValue'] [data-testid='stMarkdownContainer'] p"
            " { font-size: 3.4rem; line-height: 1.2; }",
            "[data-testid='stCaptionContainer'] { font-size: 1.05rem; }",
            # a table of nine columns must still fit 1280 px: larger than normal (0.875rem), less than the text
            "[data-testid='stTable'] [data-testid='stMarkdownContainer'] p { font-size: 1.1rem; }",
        ]
    return "<style>" + "\n".join(rules) + "</style>"
