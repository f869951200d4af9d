"""`smartfactory oee`: OEE, the six big losses, MTBF and MTTR from the store, as a table or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from smartfactory.cli.common import echo, friendly_errors, settings_from, store_option
from smartfactory.errors import ConfigError
from smartfactory.kpi import OeeReport, OeeResult
from smartfactory.query.oee import excluded_note, oee_from_store, oee_inputs
from smartfactory.query.series import line_and_name
from smartfactory.query.window import TIME_FORMS, resolve_window
from smartfactory.stores import open_existing_store


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def _hours(seconds: float | None) -> str:
    """Seconds as h:mm (minutes rounded), or — when undefined."""
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def _short(row: OeeResult) -> str:
    """Machines as line/machine (the full path is in the JSON), lines by line id (area/line), plant by name."""
    if row.level.value == "machine":
        return line_and_name(row.name)
    return row.name


HEADER = (
    "level",
    "name",
    "shift",
    "A %",
    "P %",
    "Q %",
    "OEE %",
    "planned",
    "run",
    "total",
    "good",
    "scrap",
    "fail",
    "MTBF",
    "MTTR",
)


def format_table(rows: Sequence[OeeResult], *, with_shift: bool) -> str:
    """One line per row; times as h:mm; `*` after P % when performance was capped at 100 %."""
    cells = [
        [
            row.level.value,
            _short(row),
            row.shift or "all",
            _pct(row.availability),
            _pct(row.performance) + ("*" if row.performance_capped else ""),
            _pct(row.quality),
            _pct(row.oee),
            _hours(row.planned_production_s),
            _hours(row.run_s),
            str(row.total_count),
            str(row.good_count),
            str(row.scrap_count),
            str(row.failures),
            _hours(row.mtbf_s),
            _hours(row.mttr_s),
        ]
        for row in rows
    ]
    header = list(HEADER)
    if not with_shift:
        header.pop(2)
        for line in cells:
            line.pop(2)
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    left = {0, 1, 2} if with_shift else {0, 1}

    def fmt(values: Sequence[str]) -> str:
        return "  ".join(
            v.ljust(w) if i in left else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )

    lines = [fmt(header), *(fmt(c) for c in cells)]
    if any(row.performance_capped for row in rows):
        lines.append("* performance above 100 % capped: the ideal cycle time (birth message or plant file) is too slow")
    if any(row.unrecorded_s > 0 for row in rows):
        lines.append("note: some planned time has no stored state (unrecorded, left out of planned time); see JSON")
    return "\n".join(lines)


def select_rows(report: OeeReport, shifts: Sequence[str], by_shift: bool, whole: bool) -> list[OeeResult]:
    """Whole-window rows (when `whole`), plus shift rows: all with `by_shift`, or those `shifts` name (a label
    like "early 2024-03-04" or a shift name like "early")."""

    def wanted(label: str) -> bool:
        return by_shift or any(label == s or label.rsplit(" ", 1)[0] == s for s in shifts)

    rows = [r for r in report.rows if (r.shift is None and whole) or (r.shift is not None and wanted(r.shift))]
    if shifts and not any(r.shift is not None for r in rows):
        known = ", ".join(report.shifts) or "none (the plant file has no [calendar])"
        raise ConfigError(f"no shift {', '.join(shifts)!s} in the window; shifts in it: {known}")
    return rows


@click.command()
@store_option
@click.option("--since", default=None, help=f"Start: {TIME_FORMS}. Default: the first stored data.")
@click.option("--until", default=None, help="End, exclusive (same forms). Default: just after the newest stored data.")
@click.option(
    "--line", "lines", multiple=True, help="Only this line: machining/line-1 (line-1 if one area has it); repeatable."
)
@click.option("--machine", "machines", multiple=True, help="Only this machine (name, line/name or full path).")
@click.option("--shift", "shifts", multiple=True, help="Only this shift: a name (early) or a label (early 2026-11-22).")
@click.option("--by-shift", is_flag=True, help="Table: add a row per shift of the plant calendar.")
@click.option(
    "--plant", default=None, help="Plant file with ideal cycle times and calendar (default SMARTFACTORY_SIM__PLANT)."
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True, help="Output form."
)
@friendly_errors
def oee(
    store: str | None,
    since: str | None,
    until: str | None,
    lines: tuple[str, ...],
    machines: tuple[str, ...],
    shifts: tuple[str, ...],
    by_shift: bool,
    plant: str | None,
    fmt: str,
) -> None:
    """OEE (availability × performance × quality), the six big losses, MTBF and MTTR for a time window, per
    machine, line and plant, from the stored machine states and parts.

    Times are the store's own (simulated) time: "now" is the newest stored timestamp, `--since 8h` the eight
    hours before it, and without --since/--until the window is all the stored data; the span used is printed.

    Ideal cycle times come from the machines' birth messages in the store, else from the plant file; a machine
    with neither is left out and named. The shift calendar and the loss settings come from the plant file.
    JSON prints every row (whole window, then each shift) as `kpi.OeeReport.to_dicts()` under "rows", and the
    machines left out under "excluded"; --shift keeps only that shift's rows. Definitions: docs/oee.md.
    """
    settings = settings_from(store=store)
    storage = open_existing_store(settings)
    try:
        window = resolve_window(storage, since, until)
        since_ms, until_ms = window.start_ms, window.end_ms
        if since_ms is None or until_ms is None:
            raise ConfigError(
                f"the store {settings.store} holds no data yet, so there is no window to measure: fill it with "
                "`smartfactory demo` or `smartfactory ingest`, or give --since and --until"
            )
        inputs = oee_inputs(storage, settings.sim.dir, plant or settings.sim.plant)
        result = oee_from_store(storage, since_ms, until_ms, inputs, lines=lines, machines=machines)
    finally:
        storage.close()
    report = result.report
    note = None
    if result.excluded:
        note = f"{excluded_note(result.excluded, inputs.plant_source)}; or pick the plant they come from with --plant"
    if fmt == "json":
        rows = select_rows(report, shifts, by_shift=not shifts, whole=not shifts)
        document = {
            "since_ms": report.since_ms,
            "until_ms": report.until_ms,
            "window": window.to_dict(),
            "plant": inputs.plant,
            "excluded": list(result.excluded),
            "rows": [r.to_dict() for r in rows],
        }
        click.echo(json.dumps(document, indent=2))
        if note:
            echo(f"note: {note}")
        return
    rows = select_rows(report, shifts, by_shift=by_shift, whole=not shifts)
    click.echo(f"OEE of plant {inputs.plant}, window {window.describe()}")
    click.echo(format_table(rows, with_shift=by_shift or bool(shifts)))
    if note:
        click.echo(f"note: {note}")
