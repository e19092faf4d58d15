"""``kefu docs``, run as a real subprocess without an embedder (lexical retrieval only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO_DOCS = sorted((ROOT / "src" / "kefu" / "demo" / "data" / "docs").iterdir())


@pytest.fixture
def kefu(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        "KEFU_DATA_DIR": str(tmp_path / "data"),
        "KEFU_DATABASE_URL": database_url,
        "KEFU_EMBEDDER": "none",
    }

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "kefu.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if ok:
            assert proc.returncode == 0, proc.stderr + proc.stdout
        return proc

    run("tenant", "create", "shop", "--level", "L2")
    return run


def test_import_list_ask_delete(kefu) -> None:  # type: ignore[no-untyped-def]
    proc = kefu("docs", "import", "--tenant", "shop", *map(str, DEMO_DOCS))
    assert "imported 7 documents" in proc.stdout
    assert "warranty-policy" in proc.stdout and "pdf" in proc.stdout
    assert "reading 1/7" in proc.stderr  # progress goes to stderr
    listed = json.loads(kefu("docs", "list", "--tenant", "shop", "--json").stdout)
    assert {d["doc_id"] for d in listed} == {p.stem for p in DEMO_DOCS}
    assert {d["format"] for d in listed} == {"md", "html", "txt", "docx", "pdf"}
    assert all(d["chunks"] > 0 for d in listed)

    out = kefu("docs", "ask", "--tenant", "shop", "退货运费由谁承担").stdout
    assert "退货运费" in out and "after-sales" in out
    answer = json.loads(
        kefu("docs", "ask", "--tenant", "shop", "退货运费由谁承担", "--json").stdout
    )
    assert answer["answered"] and answer["citations"][0]["doc_id"] == "after-sales"
    assert answer["citations"][0]["section"] == "售后服务政策 > 退货运费"
    unknown = kefu("docs", "ask", "--tenant", "shop", "可以加盟代理吗").stdout
    assert "I don't know" in unknown

    again = kefu("docs", "import", "--tenant", "shop", str(DEMO_DOCS[0])).stdout
    assert "(replaced)" in again
    assert "deleted care-guide" in kefu("docs", "delete", "--tenant", "shop", "care-guide").stdout
    proc = kefu("docs", "delete", "--tenant", "shop", "care-guide", ok=False)
    assert proc.returncode == 2 and "unknown document: 'care-guide'" in proc.stderr


def test_a_bad_file_imports_nothing(kefu, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n garbage that is not a PDF body")
    proc = kefu("docs", "import", "--tenant", "shop", str(DEMO_DOCS[0]), str(broken), ok=False)
    assert proc.returncode == 2
    assert "broken.pdf" in proc.stderr and "Traceback" not in proc.stderr
    assert json.loads(kefu("docs", "list", "--tenant", "shop", "--json").stdout) == []
    empty = tmp_path / "empty.md"
    empty.write_text("")
    proc = kefu("docs", "import", "--tenant", "shop", str(empty), ok=False)
    assert proc.returncode == 2 and "empty.md: file is empty" in " ".join(proc.stderr.split())
    proc = kefu("docs", "import", "--tenant", "ghost", str(DEMO_DOCS[0]), ok=False)
    assert proc.returncode == 2 and "unknown tenant" in " ".join(proc.stderr.split())
