"""AppTest: hostile values in the page's URL are ignored or refused, and the page still renders.

Hostile values for every parameter the page reads: `model`, `z`, `view` and `manifold_n`
(other parameters are never read). A sensible page: no exception, the title, the shipped
model loaded (its metric in the sidebar), and no error box.
"""
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO_ROOT

APP = str(REPO_ROOT / "app.py")

HOSTILE = [
    ("model", "../../etc"),
    ("model", "/etc/passwd"),
    ("model", "%2e%2e"),
    ("model", "..%2f..%2fetc"),
    ("model", ""),
    ("model", "reference/../reference"),  # a path that reaches a real model is still a path
    ("z", "nan,nan"),
    ("z", "inf,-inf"),
    ("z", "1e308,-1e308"),
    ("z", "0.5"),  # 1-D
    ("z", "1,2,3"),  # 3-D
    ("z", "1_000,2"),  # Python's float() reads it: 1000, beyond ±100
    ("view", "<script>alert(1)</script>"),
    ("view", '"><img src=x onerror=alert(1)>'),
    ("manifold_n", "-5"),
    ("manifold_n", "1e9"),
    ("manifold_n", "abc"),
]


def rendered_sensibly(at):
    assert not at.exception, [e.value for e in at.exception]
    assert at.title and at.title[0].value == "VAE Explorer"
    assert {m.label for m in at.sidebar.metric} >= {"Test −ELBO"}, "the model loaded"
    assert at.session_state["active_model"] == "reference"
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("param, value", HOSTILE, ids=[f"{p}={v[:30]}" for p, v in HOSTILE])
def test_a_hostile_url_value_is_handled(param, value):
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params[param] = value
    if param == "manifold_n":
        at.query_params["view"] = "Manifold"  # where the value is read
    at.run()
    rendered_sensibly(at)
    if param == "z":
        z = np.asarray(at.session_state["z"]) if "z" in at.session_state else np.zeros(2)
        assert z.shape == (2,) and np.all(np.isfinite(z)) and np.all(np.abs(z) <= 100)
    if param == "manifold_n":
        assert 5 <= at.slider(key="manifold_n").value <= 60
    if "<" in value:  # no HTML from the URL is echoed into the page's markdown
        assert value not in "\n".join(m.value for m in at.markdown)
