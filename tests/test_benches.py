"""Every bench in bench/ still runs at HEAD: a bench that breaks (a module it reads moved, an
import renamed) fails here, not when someone next wants its numbers.

Each script's --help runs in a fresh Python (the unit layer: a bench parses its arguments before
it imports anything heavy, so this takes a fraction of a second each); where a bench has a mode
of a few seconds, that runs too, under the marks of what it needs.
"""
import json
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

BENCH = REPO_ROOT / "bench"
# A bench is a script: it runs as `python bench/NAME.py`; the other files are what benches share.
SCRIPTS = sorted(path.name for path in BENCH.glob("*.py") if 'if __name__ == "__main__":' in path.read_text())


def run(*args, timeout):
    return subprocess.run([sys.executable, *map(str, args)], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout, env=None)


def test_the_benches_are_found():
    assert {"decode_in_browser.py", "physical_limit.py", "load.py", "classroom.py"} <= set(SCRIPTS)
    assert "users.py" not in SCRIPTS and "streamlit_client.py" not in SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_bench_answers_help(script):
    result = run(BENCH / script, "--help", timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith(f"usage: {script}"), result.stdout[:300]


@pytest.mark.browser
def test_decode_in_browser_times_every_shipped_model():
    """Its smallest mode (two batches of 20 decodes a model: a batch outlasts the page clock's
    0.1 ms tick) in Chromium: the runtime it loads is the one the page ships."""
    result = run(BENCH / "decode_in_browser.py", "--rounds", "1", "--batch", "20", "--batches", "2", timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    models = json.loads(result.stdout.strip().splitlines()[-1])["models"]
    shipped = (REPO_ROOT / "models" / "shipped.txt").read_text()
    assert "reference" in models and all(name in shipped for name in models)
    assert all(m["decode_ms_range"][0] > 0 and m["decode_macs"] > 0 for m in models.values())
