"""lossless, done as the sheet says with real processes: ingestion killed with SIGKILL while `smartfactory
simulate` publishes, restarted with the same client id; the counts taken here from the store pass, wrong ones
fail with explanations."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.settings import load_settings
from smartfactory.storage import open_store
from tests.exercises.conftest import STUDENT, Started, check, items, write_answers
from tests.ingest.conftest import IngestProcess, count_readings, needs_mosquitto, wait_until
from tests.ingest.test_crashes import start_process

pytestmark = [pytest.mark.integration, needs_mosquitto]


def _per_series(store_url: str) -> dict[str, int]:
    store = open_store(store_url)
    try:
        counts: dict[str, int] = {}
        for chunk in store.iter_readings():
            for r in chunk:
                parts = r.series.split("/")
                key = f"{parts[4]}/{parts[6]}"
                counts[key] = counts.get(key, 0) + 1
        return counts
    finally:
        store.close()


def test_without_the_simulator_run_the_check_says_what_to_do(started: Started, class_dir: Path, tmp_path: Path) -> None:
    manifest = started("lossless")
    truth = Path(str(manifest.facts["truth_file"]))
    if truth.exists():
        pytest.skip("the run above already wrote the simulator's truth")
    folder = class_dir / STUDENT / "lossless"
    code, verdict = check(class_dir, "lossless", write_answers(folder, "lossless", {"published_readings": 1}, "x.toml"))
    assert code == 1
    assert "run the simulate command" in items(verdict)["simulator_run"]["explanation"]


def test_kill_restart_and_prove(started: Started, class_dir: Path, private_broker: RunningBroker) -> None:
    manifest = started("lossless")
    facts = manifest.facts
    folder = class_dir / STUDENT / "lossless"
    url = private_broker.address.url(masked=False)
    settings = load_settings(mqtt_url=url, store=manifest.store, data_dir=folder,
                             ingest={"client_id": str(facts["client_id"]), "health_interval": 0.2})  # fmt: skip
    first = start_process(settings, folder, "ingest-1", private_broker.address)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")}
    plant = subprocess.Popen(
        [sys.executable, "-m", "smartfactory", "simulate", "--mqtt-url", url, "--seed", str(manifest.seed),
         "--speed", "120", "--duration", "10m", "--truth", str(facts["truth_file"])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    second: IngestProcess | None = None
    try:
        assert wait_until(lambda: count_readings(manifest.store) > 0, timeout=60), first.output()
        first.kill()
        after_kill = count_readings(manifest.store)
        second = start_process(settings, folder, "ingest-2", private_broker.address)
        _, err = plant.communicate(timeout=120)
        assert plant.returncode == 0, err
        published = int(re.findall(r"published \d+ telemetry messages \((\d+) readings\)", err)[-1])
        assert after_kill < published  # really mid-stream
        assert wait_until(lambda: count_readings(manifest.store) >= published, timeout=60)
        assert second.terminate() == 0
        second = None
    finally:
        if plant.poll() is None:
            plant.kill()
            plant.wait()
        if second is not None:
            second.kill()
    per_series = _per_series(manifest.store)
    right = {"published_readings": published, "stored_after_kill": after_kill,
             "stored_at_end": sum(per_series.values()), "per_series": per_series}  # fmt: skip
    code, verdict = check(class_dir, "lossless", write_answers(folder, "lossless", right))
    assert code == 0, verdict
    assert items(verdict)["nothing_lost"]["correct"]
    one_off = dict(per_series)
    dropped = sorted(one_off)[0]
    del one_off[dropped]
    wrong = {**right, "stored_at_end": right["stored_at_end"] - 1, "per_series": one_off}
    code, verdict = check(class_dir, "lossless", write_answers(folder, "lossless", wrong, "wrong.toml"))
    assert code == 1
    found = items(verdict)
    assert "not what the store holds" in found["stored_at_end"]["explanation"]
    assert dropped in found["per_series"]["explanation"] or "1 of" in found["per_series"]["explanation"]
    assert found["published_readings"]["correct"]
