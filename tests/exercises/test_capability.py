"""capability: Cp/Cpk computed here from the exported values with `smartfactory.spc` pass; wrong ones fail."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from smartfactory.spc import capability, imr
from smartfactory.storage import open_store
from smartfactory.wire import parse_series
from tests.exercises.conftest import STUDENT, Started, check, items, write_answers


def _study(store_url: str, series: str) -> tuple[float, float]:
    sid = parse_series(series)
    store = open_store(store_url)
    try:
        values = np.array([r.value for chunk in store.iter_readings(machine=sid.machine, sensor=sid.sensor)
                           for r in chunk])  # fmt: skip
        signal = store.read_machine_info()[sid.machine].signals[sid.sensor]
    finally:
        store.close()
    chart = imr(values).main
    cap = capability(values, center=float(np.mean(values)), sigma_within=float(chart.sigma_line[0]),
                     lsl=signal.lsl, usl=signal.usl)  # fmt: skip
    assert cap.cp is not None
    assert cap.cpk is not None
    return cap.cp.value, cap.cpk.value


def test_right_answer_passes_and_wrong_fails(started: Started, class_dir: Path) -> None:
    manifest = started("capability")
    series = str(manifest.facts["series"])
    assert int(manifest.facts["parts"]) > 100
    cp, cpk = _study(manifest.store, series)
    folder = class_dir / STUDENT / "capability"
    right = {"cp": round(cp, 2), "cpk": round(cpk, 2), "capable": cpk >= 1.33}
    code, verdict = check(class_dir, "capability", write_answers(folder, "capability", right))
    assert code == 0, verdict
    wrong = {"cp": round(cp, 2), "cpk": round(cpk + 0.3, 2), "capable": not right["capable"]}
    code, verdict = check(class_dir, "capability", write_answers(folder, "capability", wrong, "wrong.toml"))
    assert code == 1
    found = items(verdict)
    assert found["cp"]["correct"]
    assert "too high" in found["cpk"]["explanation"]
    assert f"{cpk:.2f}" in found["cpk"]["explanation"]
    assert not found["capable"]["correct"]
    assert "1.33" in found["capable"]["explanation"]
