"""AppTest: whatever the browser sends as the canvas' value, the Draw tab warns and keeps
working. The value is injected under the widget's key, as a hostile client could send it."""
import base64
import io

import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from conftest import REPO_ROOT
from test_drawing import claimed_png

APP = str(REPO_ROOT / "app.py")


def png(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def data_url(payload):
    return "data:image/png;base64," + base64.b64encode(payload).decode()


def value(data):
    return {"drawing": {"raw": {"objects": [{"type": "path"}]}, "data": data}}


def a_one():
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(140, 40), (140, 240)], fill=(0, 0, 0, 255), width=18)
    return value(data_url(png(image)))


HOSTILE = {
    "rgb": (value(data_url(png(Image.new("RGB", (280, 280), "white")))),
            "expected an RGBA drawing (ink in alpha), got a RGB image"),
    "grey": (value(data_url(png(Image.new("L", (280, 280))))), "got a L image"),
    "too many pixels": (value(data_url(claimed_png(4000, 3000, filled=True))),
                        "4000×3000 pixels; at most 1,048,576"),
    "too many bytes": (value(data_url(b"\0" * 5_000_000)), "5.0 MB; at most 4 MB"),
    "not base64": (value("data:image/png;base64,@@@not base64@@@"), "the browser sent a malformed drawing"),
    "no base64 marker": (value("data:image/png,abc"), "the browser sent a malformed drawing"),
    "not a png": (value(data_url(b"<script>alert(1)</script>")), "not a readable PNG"),
    "truncated png": (value(data_url(png(Image.new("RGBA", (280, 280)))[:120])), "not a readable PNG"),
    "a number": (value(12345), "the browser sent a malformed drawing"),
    "a list": (value([1, 2, 3]), "the browser sent a malformed drawing"),
    "drawing not a dict": ({"drawing": "garbage"}, "could not be read"),
}


def _has_draw_view(at):
    return any(getattr(getattr(e, "proto", None), "component_name", "") == "vae_latent_draw" for e in at.main)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_canvas_value_gets_a_warning_and_the_tab_keeps_working(case):
    payload, words = HOSTILE[case]
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["view"] = "Draw"
    at.session_state["canvas_0"] = payload
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value for w in at.warning]
    assert any(words in w for w in warnings), warnings
    assert "drawn" not in at.session_state
    assert _has_draw_view(at), "the plane still renders"
    # and a real drawing afterwards is encoded as usual
    key = f"canvas_{at.session_state['canvas_generation']}" if "canvas_generation" in at.session_state \
        else "canvas_0"
    at.session_state[key] = a_one()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "drawn" in at.session_state and not at.warning
