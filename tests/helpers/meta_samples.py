"""Where the Meta fixtures live: a copy of shared/meta-samples kept with the tests, so a clone
runs anywhere (OMNIDESK_META_SAMPLES points elsewhere, e.g. at a newer shared/ copy)."""

from __future__ import annotations

import os
from pathlib import Path

SAMPLES = Path(
    os.environ.get(
        "OMNIDESK_META_SAMPLES", Path(__file__).resolve().parents[1] / "fixtures" / "meta-samples"
    )
)
