"""Fixtures for the SPC tests: the open reference data in tests/spc/data (provenance in its README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

REFERENCE = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def reference() -> Path:
    """The reference folder; it is part of the repository, so its absence is a failure, not a skip."""
    for part in ("inputs", "expected"):
        assert (REFERENCE / part).is_dir(), f"{REFERENCE / part} is missing: the reference data is part of the repo"
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
