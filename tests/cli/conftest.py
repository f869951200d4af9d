"""Helpers for the command tests: run `smartfactory` as a user does (a subprocess) or in-process (CliRunner)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m smartfactory ARGS` with the test's environment minus SMARTFACTORY_* (plus `env`)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")}
    return subprocess.run(
        [sys.executable, "-m", "smartfactory", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**clean, **(env or {})},
    )
