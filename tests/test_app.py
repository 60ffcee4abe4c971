"""AppTest for each section of the explorer, driving widgets and injecting
plotly selections and canvas drawings through session_state under their keys."""
import base64
import io
import json

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from conftest import REPO_ROOT

APP = str(REPO_ROOT / "app.py")


@pytest.fixture(scope="module")
def explorer():
    from vae.explorer import load_explorer
    from vae.store import resolve_model_dir
    return load_explorer(resolve_model_dir(None))


def run_app(view=None, **query):
    at = AppTest.from_file(APP, default_timeout=180)
    if view:
        at.query_params["view"] = view
    for key, value in query.items():
        at.query_params[key] = value
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


def test_page_loads_with_the_shipped_model():
    at = run_app()
    from vae.store import read_metadata, resolve_model_dir
    meta = read_metadata(resolve_model_dir(None))
    metrics = {m.label: m.value for m in at.sidebar.metric}
    assert metrics["Test −ELBO"] == f"{meta['metrics']['neg_elbo']:.1f}"
    assert "Decoded digit" in markdown_text(at)


def test_pad_click_decodes_the_clicked_point(explorer):
    at = run_app()
    before = image_urls(at)
    click(at, "pad_chart", x=1.25, y=-2.5, curve_number=10, point_index=7)
    assert np.allclose(at.session_state["z"], [1.25, -2.5])
    assert at.query_params["z"] == "1.250,-2.500"
    assert "z = (1.25, -2.50)" in markdown_text(at)
    assert image_urls(at) != before
    looks = explorer.looks_like(np.array([1.25, -2.5], "float32"))
    assert f"Looks like a **{looks.label}**" in markdown_text(at)
    # the marker moved to the point
    marker = [t for t in chart_specs(at)[0]["data"] if t.get("name") == "current z"][0]
    assert values(marker["x"]) == [pytest.approx(1.25)] and values(marker["y"]) == [pytest.approx(-2.5)]


def test_pad_ignores_a_deselect_and_a_repeated_click():
    at = run_app()
    click(at, "pad_chart", x=0.5, y=0.5)
    at.number_input(key="z0_input").set_value(-1.0).run()
    assert np.allclose(at.session_state["z"], [-1.0, 0.5])
    # Plotly repeats the same selection on every rerun: it must not undo the typed value
    at.run()
    assert np.allclose(at.session_state["z"], [-1.0, 0.5])
    at.session_state["pad_chart"] = {"selection": {"points": [], "point_indices": [], "box": [], "lasso": []}}
    at.run()
    assert np.allclose(at.session_state["z"], [-1.0, 0.5])


def test_clicking_the_same_point_again_after_moving_away_decodes_it():
    at = run_app()
    click(at, "pad_chart", x=0.5, y=0.5)
    at.number_input(key="z0_input").set_value(-1.0).run()
    click(at, "pad_chart", x=0.5, y=0.5)  # Plotly sends the same point again
    assert np.allclose(at.session_state["z"], [0.5, 0.5])
    at.number_input(key="z1_input").set_value(2.0).run()
    at.session_state["pad_chart"] = {"selection": {"points": [], "point_indices": [], "box": [], "lasso": []}}
    at.run()
    click(at, "pad_chart", x=0.5, y=0.5)
    assert np.allclose(at.session_state["z"], [0.5, 0.5])


def test_number_inputs_set_z_exactly():
    at = run_app()
    at.number_input(key="z0_input").set_value(0.75).run()
    at.number_input(key="z1_input").set_value(-0.25).run()
    assert np.allclose(at.session_state["z"], [0.75, -0.25])
    assert "z = (0.75, -0.25)" in markdown_text(at)
    assert at.query_params["z"] == "0.750,-0.250"


def test_a_link_reproduces_the_pad_point():
    at = run_app(z="0.5,-1.0")
    assert "z = (0.50, -1.00)" in markdown_text(at)
    assert at.number_input(key="z1_input").value == pytest.approx(-1.0)


@pytest.mark.parametrize("bad", ["banana", "1,2,3", "nan,0", "1e9,0"])
def test_a_bad_link_falls_back_to_the_origin(bad):
    at = run_app(z=bad)
    assert "z = (0.00, 0.00)" in markdown_text(at)
    assert any("Ignored z=" in t.value for t in at.toast)


def test_unknown_model_in_the_link_falls_back_to_the_default():
    at = run_app(model="no-such-model")
    assert at.session_state["active_model"] == "reference"


def test_drawing_is_encoded_and_marked_on_the_map(explorer):
    from vae.drawing import preprocess_drawing
    payload, image = canvas_payload(lambda d: d.line([(140, 40), (140, 240)], fill=(0, 0, 0, 255), width=18))
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["view"] = "Draw"
    at.session_state["canvas_0"] = payload
    at.run()
    assert not at.exception
    expected_z, _ = explorer.encode(preprocess_drawing(np.asarray(image)).image)
    assert np.allclose(at.session_state["drawn"]["z_mean"], expected_z, atol=1e-5)
    text = markdown_text(at)
    assert f"z = ({expected_z[0]:.2f}, {expected_z[1]:.2f})" in text
    names = [t.get("name") for t in chart_specs(at)[0]["data"]]
    assert "your digit" in names and "2σ of q(z|x)" in names
    assert image_count(at) >= 2  # what the model sees + the reconstruction


def test_blank_canvas_gets_a_hint_not_an_error():
    payload, _ = canvas_payload()
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["view"] = "Draw"
    at.session_state["canvas_0"] = payload
    at.run()
    assert not at.exception
    from vae.drawing import EMPTY_MESSAGE
    assert [i.value for i in at.info] == [EMPTY_MESSAGE]
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
    path = [t for t in chart_specs(at)[0]["data"] if t.get("name") == "path"][0]
    xs, ys = values(path["x"]), values(path["y"])
    assert xs[0] == pytest.approx(0.0) and ys[0] == pytest.approx(0.0)
    assert xs[-1] == pytest.approx(float(explorer.z_test[42, 0]), abs=1e-5)
    assert len(xs) == 5


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
    assert f"z = ({z[0]:.2f}, {z[1]:.2f})" in markdown_text(at)
    assert at.number_input(key="z0_input").value == pytest.approx(float(z[0]), abs=1e-3)
