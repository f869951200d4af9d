"""Shared fixtures for the SPC tests: the open reference data in ../shared/datasets/spc."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

REFERENCE = Path(__file__).parents[2].parent / "shared" / "datasets" / "spc"


@pytest.fixture(scope="session")
def reference() -> Path:
    if not (REFERENCE / "expected").is_dir():
        pytest.skip(f"reference data folder {REFERENCE} is absent (it lives next to the repo in ../shared)")
    return REFERENCE


@pytest.fixture(scope="session")
def expected(reference: Path) -> Any:
    def load(name: str) -> Any:
        return json.loads((reference / "expected" / name).read_text())

    return load


@pytest.fixture(scope="session")
def pistonrings(reference: Path) -> np.ndarray:
    df = pd.read_csv(reference / "inputs" / "pistonrings.csv")
    return df[[f"x{i}" for i in range(1, 6)]].to_numpy(dtype=float)


@pytest.fixture(scope="session")
def orangejuice(reference: Path) -> pd.DataFrame:
    return pd.read_csv(reference / "inputs" / "orangejuice.csv")


@pytest.fixture(scope="session")
def circuit(reference: Path) -> pd.DataFrame:
    return pd.read_csv(reference / "inputs" / "circuit.csv")
