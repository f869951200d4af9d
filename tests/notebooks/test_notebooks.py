"""The notebooks in docs/notebooks/ run top to bottom (nbclient + ipykernel) on data a short simulated run made.

Each notebook reads the store named by SMARTFACTORY_STORE; the fixture fills one per notebook with the scenario
the notebook is written for (speed 0: minutes of plant time in seconds). The notebooks check their own results
(`assert` cells: the shift is flagged, the moulder's largest loss is its breakdown, the hand-made OEE equals
`smartfactory oee`), so a run without errors means those held.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT, path_with_interpreter_bin
from tests.notebooks.stores import simulated_store

nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (pip install -e '.[dev]')")
nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (pip install -e '.[dev]')")
pytest.importorskip("ipykernel", reason="ipykernel is not installed (pip install -e '.[dev]')")

pytestmark = pytest.mark.integration
NOTEBOOKS = ROOT / "docs" / "notebooks"
#: notebook → (scenario, simulated seconds) of the run it analyses
RUNS = {"spc_on_your_data": ("sudden-shift", 15 * 60), "oee_from_states": ("breakdown", 25 * 60)}
#: text each notebook prints once its analysis is done
EXPECTED = {
    "spc_on_your_data": ["first flagged bottle after the fault", "CPK", "the in-control process is"],
    "oee_from_states": ["imm-01: largest loss breakdowns", "by hand: OEE"],
}


def outputs(notebook: object) -> str:
    texts = []
    for cell in notebook.cells:  # type: ignore[attr-defined]
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                texts.append(output.text)
            elif "data" in output:
                texts.append(output.data.get("text/plain", ""))
    return "\n".join(texts)


def test_every_notebook_is_listed_and_stored_without_outputs() -> None:
    found = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert found == sorted(RUNS)
    for name in found:
        notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        nbformat.validate(notebook)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), f"{name}: clear its outputs"


@pytest.mark.parametrize("name", sorted(RUNS))
def test_notebook_runs_top_to_bottom(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario, duration_s = RUNS[name]
    store = simulated_store(tmp_path / "run", scenario, duration_s)
    monkeypatch.setenv("SMARTFACTORY_STORE", store)  # the kernel inherits the environment
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError naming the cell and its traceback
    text = outputs(notebook)
    for expected in EXPECTED[name]:
        assert expected in text
    assert store.removeprefix("sqlite:///") in text  # it analysed the store it was given, not a run of its own


@pytest.mark.slow
def test_a_notebook_makes_its_own_data_without_a_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a student gets who opens the notebook as it is: the first cell runs `smartfactory demo` (20 s)."""
    monkeypatch.delenv("SMARTFACTORY_STORE", raising=False)
    monkeypatch.setenv("PATH", path_with_interpreter_bin())
    notebook = nbformat.read(NOTEBOOKS / "oee_from_states.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    text = outputs(notebook)
    assert "smartfactory-notebook-" in text  # the store of its own run
    for expected in EXPECTED["oee_from_states"]:
        assert expected in text
