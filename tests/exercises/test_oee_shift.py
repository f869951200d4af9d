"""oee-shift: the figures of `smartfactory oee` for the shift pass (and equal the simulator's own ground truth);
a fraction instead of a percentage and the wrong loss fail with explanations."""

from __future__ import annotations

import json
from pathlib import Path

from smartfactory.exercises.layout import read_truth
from tests.exercises.conftest import STUDENT, Started, check, invoke, items, write_answers

LOSSES = ("breakdowns", "setup_adjustments", "small_stops", "reduced_speed", "startup_rejects", "production_rejects")


def test_right_answer_passes_and_wrong_fails(started: Started, class_dir: Path) -> None:
    manifest = started("oee-shift")
    facts = manifest.facts
    code, out, err = invoke("oee", "--store", manifest.store, "--since", str(facts["since"]), "--until",
                            str(facts["until"]), "--machine", str(facts["machine"]), "--format", "json")  # fmt: skip
    assert code == 0, err
    row = next(r for r in json.loads(out)["rows"] if r["level"] == "machine" and r["shift"] is None)
    folder = class_dir / STUDENT / "oee-shift"
    truth = read_truth(folder)["oee_truth"]
    simulated = next(r for r in truth if r["level"] == "machine" and r["name"] == row["name"]
                     and str(r["shift"]).startswith("early"))  # fmt: skip
    assert abs(simulated["oee"] - row["oee"]) < 1e-9  # the store tells the simulator's truth
    largest = max(LOSSES, key=lambda name: row["losses"][name])
    right = {k: round(100 * row[k], 1) for k in ("availability", "performance", "quality", "oee")}
    answers = write_answers(folder, "oee-shift", {**right, "largest_loss": largest})
    code, verdict = check(class_dir, "oee-shift", answers)
    assert code == 0, verdict
    smallest = min(LOSSES, key=lambda name: row["losses"][name])
    wrong = {**right, "availability": round(row["availability"], 3), "largest_loss": smallest}
    code, verdict = check(class_dir, "oee-shift", write_answers(folder, "oee-shift", wrong, "wrong.toml"))
    assert code == 1
    found = items(verdict)
    assert "percent, not a fraction" in found["availability"]["explanation"]
    assert not found["largest_loss"]["correct"]
    assert "another loss" in found["largest_loss"]["explanation"]
    assert found["oee"]["correct"]
