"""Exercise lossless: kill ingestion while the plant publishes, restart it, and prove that nothing was lost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from smartfactory.exercises.base import Exercise, Prepared
from smartfactory.exercises.expected import sent_per_series
from smartfactory.exercises.grading import Item, missing, number
from smartfactory.exercises.layout import Manifest
from smartfactory.exercises.produce import Plan, Produced
from smartfactory.settings import load_settings
from smartfactory.storage import Storage, open_store

TRUTH_FILE = "simulator-truth.json"
DURATION = "20m"
SPEED = 20


class Lossless(Exercise):
    name = "lossless"
    title = "Kill ingestion and prove nothing was lost"
    topic = "Ingestion: persistent sessions, QoS 1, acknowledge after write, idempotent storage"
    needs = "mosquitto (or `smartfactory broker`), three terminals; about 5 minutes"
    answers = (
        ("published_readings", "0", "the simulator's last line: published N telemetry messages (R readings): R"),
        ("stored_after_kill", "0", "readings in the store right after you killed ingestion"),
        ("stored_at_end", "0", "readings in the store at the end"),
    )

    def plan(self, seed: int) -> Plan | None:
        return None

    def prepare(self, seed: int, folder: Path, produced: Produced | None) -> Prepared:
        port = 20_000 + seed % 20_000
        facts = {
            "mqtt_url": f"mqtt://127.0.0.1:{port}",
            "client_id": f"lossless-{seed}",
            "duration": DURATION,
            "speed": SPEED,
            "truth_file": str(folder / TRUTH_FILE),
        }
        return Prepared(facts, {"truth_file": TRUTH_FILE})

    def template(self, manifest: Manifest) -> str:
        return super().template(manifest) + (
            '\n# readings per series at the end, as "machine/sensor" = count, e.g. "cnc-01/power" = 1200\n'
            "[answers.per_series]\n"
        )

    def check(self, folder: Path, manifest: Manifest, truth: dict[str, Any], answers: dict[str, Any]) -> list[Item]:
        path = folder / str(truth["truth_file"])
        try:
            run = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return [Item("simulator_run", False, None, f"no simulator truth at {path}: run the simulate command "
                                                       "of the sheet to its end (it writes this file)")]  # fmt: skip
        items: list[Item] = []
        if run.get("seed") != manifest.seed:
            items.append(Item("simulator_run", False, run.get("seed"), f"the simulator ran with another seed than "
                                                                       f"the sheet's {manifest.seed}"))  # fmt: skip
            return items
        sent = sent_per_series(load_settings(), seed=manifest.seed, start_ms=int(run["since_ms"]),
                               until_ms=int(run["until_ms"]))  # fmt: skip
        store = open_store(manifest.store)
        try:
            stored = stored_per_series(store)
        finally:
            store.close()
        total_sent, total_stored = sum(sent.values()), sum(stored.values())
        items.append(_exact("published_readings", answers.get("published_readings"), total_sent,
                            "what the simulator sent"))  # fmt: skip
        items.append(_exact("stored_at_end", answers.get("stored_at_end"), total_stored, "what the store holds"))
        after_kill = number(answers.get("stored_after_kill"))
        if answers.get("stored_after_kill") is None:
            items.append(missing("stored_after_kill", "the store's count right after the kill"))
        elif after_kill is None or not 0 < after_kill < total_sent:
            items.append(Item("stored_after_kill", False, answers.get("stored_after_kill"),
                              f"kill ingestion while the simulator still publishes: the count then lies between 0 "
                              f"and the {total_sent} readings sent"))  # fmt: skip
        else:
            items.append(
                Item(
                    "stored_after_kill",
                    True,
                    answers.get("stored_after_kill"),
                    f"{total_sent - after_kill:.0f} readings were still to come when ingestion died",
                )
            )
        lost = {s: sent[s] - stored.get(s, 0) for s in sent if stored.get(s, 0) < sent[s]}
        if lost:
            worst = ", ".join(f"{_short(s)} −{n}" for s, n in sorted(lost.items(), key=lambda kv: -kv[1])[:4])
            items.append(Item("nothing_lost", False, total_stored,
                              f"the store lacks {sum(lost.values())} of the {total_sent} readings sent ({worst}): "
                              f"was ingestion restarted with the same --client-id, and did it run until the queue "
                              f"was empty?"))  # fmt: skip
        else:
            items.append(Item("nothing_lost", True, total_stored, f"all {total_sent} readings sent are stored"))
        items.append(_per_series(answers.get("per_series"), stored))
        return items


def stored_per_series(store: Storage) -> dict[str, int]:
    """Readings per series id in the store."""
    counts: dict[str, int] = {}
    for chunk in store.iter_readings():
        for reading in chunk:
            counts[reading.series] = counts.get(reading.series, 0) + 1
    return counts


def _short(series: str) -> str:
    parts = series.split("/")
    return f"{parts[4]}/{parts[-1]}" if len(parts) >= 7 else series


def _exact(name: str, given: Any, reference: int, what: str) -> Item:
    value = number(given)
    if given is None:
        return missing(name, "a count")
    if value is not None and value == reference:
        return Item(name, True, given, f"that is {what}")
    side = "more" if value is not None and value > reference else "fewer"
    return Item(name, False, given, f"not {what}: that is {reference:d}, {side} than yours" if value is not None
                else "not a number", "exact")  # fmt: skip


def _per_series(given: Any, stored: dict[str, int]) -> Item:
    if not isinstance(given, dict) or not given:
        return missing("per_series", 'a table [answers.per_series] of "machine/sensor" = count')
    by_short = {_short(s): n for s, n in stored.items()}
    wrong = [k for k, n in by_short.items() if number(given.get(k)) != n]
    unknown = [k for k in given if k not in by_short]
    if not wrong and not unknown:
        return Item("per_series", True, f"{len(given)} series", "every series' count matches the store", "exact")
    parts = []
    if wrong:
        parts.append(f"{len(wrong)} of {len(by_short)} series differ from the store or are missing (e.g. {wrong[0]})")
    if unknown:
        parts.append(f"not series of this store: {', '.join(unknown[:3])}")
    return Item("per_series", False, f"{len(given)} series", "; ".join(parts), "exact")
