"""`make demo`, the README's main command: it trains two versions, runs the shadow and online AB
tests on them, tells the agreement and the split, writes the report, and leaves nothing running."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from mlpatterns.paths import REPOSITORY

DEMO = REPOSITORY / ".demo"


@pytest.mark.timeout(600)
def test_the_demo_tells_the_story_and_stops_everything() -> None:
    done = subprocess.run(
        [sys.executable, "scripts/demo.py"], cwd=REPOSITORY, capture_output=True, text=True, timeout=580, check=False,
        env={**os.environ, "COLUMNS": "100"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    out = done.stdout
    assert "'iris' version 1 registered" in out
    assert "'iris' version 2 registered" in out
    agreed = re.search(r"v2 agreed with v1 on ([0-9.]+)% of the mirrored requests", out)
    assert agreed is not None, out[-3000:]
    assert 50 <= float(agreed.group(1)) <= 100
    split = re.search(r"online AB: primary \(v1\) ([0-9.]+)%, canary \(v2\) ([0-9.]+)%", re.sub(r"\s+", " ", out))
    assert split is not None, out[-3000:]
    assert 75 <= float(split.group(1)) <= 100  # 90/10 by weight over 300 requests
    assert (DEMO / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    left = [json.loads(state.read_text()) for state in (DEMO / "home" / "up").glob("*.json")]
    assert left == [], "a pattern was left running"
