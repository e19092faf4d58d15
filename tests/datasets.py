"""Where the public evaluation data lives (never copied into the repo).

``KEFU_DATASETS`` wins; else ``../shared/datasets`` next to the checkout, else the workplace's
``/work/shared/datasets`` (a clean clone elsewhere, as CI makes, still finds it).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def datasets_dir() -> Path:
    env = os.environ.get("KEFU_DATASETS")
    candidates = [Path(env)] if env else []
    candidates += [ROOT.parent / "shared" / "datasets", Path("/work/shared/datasets")]
    for c in candidates:
        if (c / "tau_bench_retail").is_dir():
            return c
    raise RuntimeError(
        "public datasets not found: set KEFU_DATASETS to the folder holding tau_bench_retail/"
    )


DATASETS = datasets_dir()
