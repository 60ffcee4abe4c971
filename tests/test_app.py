"""AppTest for each section of the explorer, driving widgets and injecting
plotly selections and canvas drawings through session_state under their keys."""
import base64
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from conftest import REPO_ROOT

APP = str(REPO_ROOT / "app.py")


@pytest.fixture(scope="module")
def explorer():
    from vae.explorer import open_explorer
    from vae.store.versions import open_dir
    return open_explorer(open_dir())


def run_app(view=None, state=None, **query):
    """A first run of the app on `view`, with `query` in the URL and `state` in the session."""
    at = AppTest.from_file(APP, default_timeout=180)
    if view:
        at.query_params["view"] = view
    for key, value in query.items():
        at.query_params[key] = value
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def markdown_text(at):
    return "\n".join(m.value for m in at.markdown)


def image_urls(at):
    return [img.url for element in at.get("image") for img in element.proto.imgs]


def image_count(at):
    return len(image_urls(at))


def chart_specs(at):
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def values(array):
    """A plotly JSON array: a list, or a typed array {"dtype", "bdata"} in plotly >= 6."""
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def click(at, key, **point):
    at.session_state[key] = {"selection": {"points": [point], "point_indices": [0], "box": [], "lasso": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def canvas_payload(draw=None):
    """What streamlit-drawable-canvas sends: a PNG data URL with ink in alpha."""
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    if draw:
        draw(ImageDraw.Draw(image))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return {"drawing": {"raw": {"objects": [{"type": "path"}] if draw else []}, "data": url}}, image


def component_data(at, name):
    """The data a custom component received in the last run, by its registered name."""
    for element in at.main:
        if type(element).__name__ == "UnknownElement" and getattr(element.proto, "component_name", "") == name:
            return json.loads(element.proto.json)
    raise AssertionError(f"no component {name!r} on the page")


def pad_data(at):
    return component_data(at, "vae_latent_pad")


def keep(at, *points, mount="page-1", first_seq=1):
    """What the pad sends when the user keeps points: its recent commits, numbered."""
    history = [[x, y, first_seq + i] for i, (x, y) in enumerate(points)]
    at.session_state["latent_pad"] = {"commit": {"id": mount, "seq": history[-1][2], "points": history}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_page_loads_with_the_shipped_model(explorer):
    at = run_app()
    from vae.store.versions import open_dir
    meta = open_dir().metadata
    metrics = {m.label: m.value for m in at.sidebar.metric}
    assert metrics["Test −ELBO"] == f"{meta['metrics']['neg_elbo']:.1f}"
    data = pad_data(at)
    payload = data["payload"]  # the first page carries the model for the browser
    assert data["model"] == payload["key"] == explorer.browser_key
    assert payload["decoder"]["format"] == "vae-decoder/1"
    assert payload["encoder"]["format"] == "vae-encoder/1"  # for a view that encodes in the page
    assert len(base64.b64decode(payload["codes"])) == explorer.z_test.nbytes
    assert payload["class_colors"] == list(explorer.class_colors)


def test_the_model_is_sent_to_the_page_once(explorer):
    at = run_app()
    assert "payload" in pad_data(at)
    at.session_state["latent_pad"] = {"have": explorer.browser_key}  # the page confirms it holds it
    at.run()
    assert "payload" not in pad_data(at)
    at.session_state["latent_pad"] = {"have": None}  # the page lost it: send it again
    at.run()
    assert "payload" in pad_data(at)


def test_kept_points_move_the_url_inputs_and_trail():
    at = run_app()
    keep(at, (1.25, -2.5))
    assert np.allclose(at.session_state["z"], [1.25, -2.5])
    assert at.query_params["z"] == "1.250,-2.500"
    assert z_input(at, 0).value == pytest.approx(1.25)
    data = pad_data(at)
    assert data["trail"] == [[1.25, -2.5]] and data["point_source"] == "pad"


def test_coalesced_commits_are_all_taken_in_order_and_never_twice():
    at = run_app()
    keep(at, (0.1, 0.1), (0.2, 0.2), (0.3, 0.3))  # three clicks, one rerun
    keep(at, (0.1, 0.1), (0.2, 0.2), (0.3, 0.3), (0.4, 0.4))  # the page resends its history
    assert pad_data(at)["trail"] == [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.4, 0.4]]
    assert at.query_params["z"] == "0.400,0.400"
    keep(at, (-1.0, 1.0), mount="page-2")  # a remounted pad numbers from 1 again
    assert pad_data(at)["trail"][-1] == [-1.0, 1.0]


@pytest.mark.parametrize("bad", [
    {"id": "p", "seq": 1, "points": [[float("nan"), 0.0, 1]]},
    {"id": "p", "seq": 1, "points": [[1e6, 0.0, 1]]},
    {"id": "p", "seq": 1, "points": [[1.0, 2.0, 3.0, 1]]},
    {"id": "p", "seq": 1, "points": [["1", "2", 1]]},
    {"id": "p", "seq": 1, "points": [[1.0, 2.0, "1"]]},
    {"id": "p" * 100, "seq": 1, "points": [[1.0, 2.0, 1]]},
    {"id": "p", "seq": 1, "points": "1,2"},
    "1,2",
    [[1.0, 2.0, 1]],
])
def test_malformed_commits_from_the_page_are_ignored(bad):
    at = run_app()
    at.session_state["latent_pad"] = {"commit": bad}
    at.run()
    assert not at.exception
    assert np.allclose(at.session_state["z"], [0.0, 0.0])
    assert pad_data(at)["trail"] == []


def test_number_inputs_set_z_exactly():
    at = run_app()
    z_input(at, 0).set_value(0.75).run()
    z_input(at, 1).set_value(-0.25).run()
    assert np.allclose(at.session_state["z"], [0.75, -0.25])
    data = pad_data(at)
    assert data["point"] == [0.75, -0.25] and data["point_source"] == "other"
    assert at.query_params["z"] == "0.750,-0.250"


def z_input(at, axis):
    """The pad's number input for z[axis]: keyed by the point's revision, so found by prefix."""
    found = [n for n in at.number_input if str(n.key).startswith(f"z{axis}_input@")]
    assert len(found) == 1, [n.key for n in at.number_input]
    return found[0]


def test_a_remounted_number_input_reports_the_point_not_its_minimum():
    # A number input that the browser re-mounts sends its default. Streamlit's default is
    # min_value, so a model switch under load once moved the point to (-100, -100).
    at = run_app(z="0.5,-0.5")
    for axis, expected in ((0, 0.5), (1, -0.5)):
        assert z_input(at, axis).proto.default == pytest.approx(expected)
    keep(at, (1.25, -2.5))
    assert [z_input(at, axis).proto.default for axis in (0, 1)] == pytest.approx([1.25, -2.5])
    z_input(at, 0).set_value(0.75).run()  # typing still moves it
    assert np.allclose(at.session_state["z"], [0.75, -2.5])


def test_a_sampled_point_is_one_number_everywhere():
    # The URL keeps 3 decimals: the point itself is rounded so, or the pad and the URL could
    # show it rounded two ways (0.7451 on the pad as 0.75, in the URL 0.745, read as 0.74).
    at = run_app()
    at.button(key="pad_sample").click().run()
    z = at.session_state["z"]
    assert np.array_equal(z, np.round(z, 3))
    assert at.query_params["z"] == ",".join(f"{v:.3f}" for v in z)
    assert pad_data(at)["point"] == [float(v) for v in z]


def test_a_link_reproduces_the_pad_point():
    at = run_app(z="0.5,-1.0")
    assert pad_data(at)["point"] == [0.5, -1.0]
    assert z_input(at, 1).value == pytest.approx(-1.0)


@pytest.mark.parametrize("bad", ["banana", "1,2,3", "nan,0", "1e9,0"])
def test_a_bad_link_falls_back_to_the_origin(bad):
    at = run_app(z=bad)
    assert pad_data(at)["point"] == [0.0, 0.0]
    assert any("Ignored z=" in t.value for t in at.info)


def test_unknown_model_in_the_link_falls_back_to_the_default():
    at = run_app(model="no-such-model")
    assert at.session_state["active_model"] == "reference"


def test_drawing_is_encoded_and_marked_on_the_map(explorer):
    from vae.data.drawing import preprocess_drawing
    payload, image = canvas_payload(lambda d: d.line([(140, 40), (140, 240)], fill=(0, 0, 0, 255), width=18))
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["view"] = "Draw"
    at.session_state["canvas_0"] = payload
    at.run()
    assert not at.exception
    expected_z, _ = explorer.encode(preprocess_drawing(np.asarray(image)).image)
    assert np.allclose(at.session_state["drawn"]["z_mean"], expected_z, atol=1e-5)
    # the Draw view reads the canvas itself: it gets the canvas' key, the drawing recipe and
    # the code Python kept (for tests: it encodes the drawing in the page); the page holds the rest
    data = component_data(at, "vae_latent_draw")
    assert np.allclose(data["drawn"]["z"], expected_z, atol=1e-5)
    assert data["canvas_key"] == "canvas_0" and data["recipe"]["side"] == explorer.image_shape[0]
    assert not chart_specs(at), "no plotly map of the test set is sent with a drawing"


def test_blank_canvas_gets_a_hint_not_an_error():
    payload, _ = canvas_payload()
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["view"] = "Draw"
    at.session_state["canvas_0"] = payload
    at.run()
    assert not at.exception
    from vae.data.drawing import EMPTY_MESSAGE
    assert [i.value for i in at.info] == [EMPTY_MESSAGE.format(noun="digit")]
    assert "drawn" not in at.session_state


def test_clear_button_forgets_the_drawing():
    payload, _ = canvas_payload(lambda d: d.ellipse([80, 60, 200, 220], outline=(0, 0, 0, 255), width=16))
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["view"] = "Draw"
    at.session_state["canvas_0"] = payload
    at.run()
    assert "drawn" in at.session_state
    at.button(key="canvas_clear").click().run()
    assert "drawn" not in at.session_state
    assert at.session_state["canvas_generation"] == 1


def test_clicking_a_test_digit_shows_it(explorer):
    at = run_app("Test-set map")
    assert any("Click a dot" in i.value for i in at.info)
    index = 1234
    click(at, "map_chart", x=float(explorer.z_test[index, 0]), y=float(explorer.z_test[index, 1]),
          customdata=index, curve_number=int(explorer.y_test[index]))
    assert f"Test digit #{index}**, labelled **{explorer.y_test[index]}**" in markdown_text(at)
    assert image_count(at) == 2
    legend = [t["name"] for t in chart_specs(at)[0]["data"] if t.get("showlegend", True)]
    assert legend[:10] == [str(d) for d in range(10)]


def test_manifold_grid_of_40(explorer):
    at = run_app("Manifold")
    at.slider(key="manifold_n").set_value(40).run()
    at.slider(key="manifold_r").set_value(1.0).run()
    assert not at.exception
    layout = chart_specs(at)[0]["layout"]
    assert len(layout["xaxis"]["ticktext"]) <= 11
    assert layout["yaxis"]["ticktext"][0] == "1.0" and layout["yaxis"]["ticktext"][-1].startswith("-")
    assert layout["xaxis"]["ticktext"][0] == "-1.0"


def test_interpolation_between_pad_point_and_a_test_digit(explorer):
    at = run_app("Interpolate")
    at.selectbox(key="interp_src_A").set_value("Latent pad point").run()
    at.number_input(key="interp_idx_B").set_value(42).run()
    at.slider(key="interp_steps").set_value(5).run()
    assert not at.exception
    assert f"to test #42 (a {explorer.y_test[42]})" in markdown_text(at)
    line = component_data(at, "vae_latent_line")
    assert line["a"] == [0.0, 0.0] and line["steps"] == 5
    assert line["b"] == pytest.approx([float(v) for v in explorer.z_test[42]], abs=1e-6)
    at.session_state["interp_line"] = {"t": 0.8}  # the page reports where the slider was released
    at.run()
    assert component_data(at, "vae_latent_line")["t"] == pytest.approx(0.8)


def test_model_tab_shows_metrics_and_curves():
    at = run_app("Model")
    labels = [m.label for m in at.main.metric]
    assert "Test −ELBO (nats)" in labels and "5-NN accuracy" in labels
    names = {t["name"] for t in chart_specs(at)[0]["data"]}
    assert {"total (trained)", "total (trained) · val", "-ELBO (true)"} <= names


def test_sampling_the_prior_moves_the_point():
    at = run_app()
    at.button(key="pad_sample").click().run()
    assert not at.exception
    z = at.session_state["z"]
    assert z.shape == (2,) and not np.allclose(z, 0)
    assert pad_data(at)["point"] == pytest.approx([float(v) for v in z])
    assert z_input(at, 0).value == pytest.approx(float(z[0]), abs=1e-3)


@pytest.mark.slow
def test_the_server_does_not_clear_the_keras_session_after_a_run():
    """Streamlit calls keras.backend.clear_session() after every script run once Keras is
    imported: a quarter of the server's CPU with 20 users (bench/load.py), and a reset of Keras'
    layer names under a model loading in the background. The page turns that off. A plain
    script in the same process is the control: there Streamlit does call it."""
    code = ("import keras\nfrom streamlit.testing.v1 import AppTest\ncalls = []\n"
            "keras.backend.clear_session = lambda *args, **kwargs: calls.append(1)\n"
            "AppTest.from_string('import streamlit as st\\nst.write(1)').run()\n"
            "plain = len(calls)\n"
            "at = AppTest.from_file('app.py', default_timeout=180); at.run()\n"
            "assert not at.exception, at.exception\n"
            "at.run()\n"
            "print(plain, len(calls) - plain)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    plain, after_the_app = map(int, out.stdout.split()[-2:])
    assert plain >= 1, "control: Streamlit no longer clears Keras' session after a run; drop the override"
    assert after_the_app == 0


@pytest.mark.parametrize("model, words", [("reference", "A convolutional variational autoencoder (reference)"),
                                          ("mlp", "A fully connected variational autoencoder (mlp)"),
                                          ("fashion-large", "A convolutional variational autoencoder (large)")])
def test_the_header_describes_the_active_model(model, words):
    at = run_app("Model", state={"active_model": model})
    header = at.caption[0].value
    assert header.startswith(words + " with a 2-D latent space, trained on "), header
    assert ("convolution" in header) == (model != "mlp")
