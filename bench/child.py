"""Run a bench's measurement in a fresh Python, so no run inherits another's TensorFlow state."""
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_json(script, *args):
    """`python script args...` from the repo root; the JSON object on the last line it prints."""
    cmd = [sys.executable, str(script), *map(str, args)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])
