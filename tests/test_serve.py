"""``kefu serve`` hands uvicorn the settings a chat server needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from kefu.cli.common import State
from kefu.cli.main import app
from kefu.service import Service


@pytest.mark.parametrize("workers", ["1", "2"])
def test_idle_connections_outlive_the_clients_keep_alive(
    service: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    """uvicorn closes an idle connection after 5 s by default, exactly when httpx (5 s) may
    reuse it: the request then fails with a reset (seen under load as ``httpx.ReadError``)."""
    runs: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: runs.append(kwargs))
    monkeypatch.setenv("KEFU_DATA_DIR", str(tmp_path))
    state = State(data_dir=tmp_path, _service=service)
    result = CliRunner().invoke(app, ["serve", "--port", "0", "--workers", workers], obj=state)
    assert result.exit_code == 0, result.output
    assert len(runs) == 1
    assert runs[0]["timeout_keep_alive"] >= 60
