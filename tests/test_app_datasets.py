"""The whole page on a toy dataset of another image size and class count (16×16, 3 classes).

If any page code assumed MNIST's 28×28 images, ten classes or "digit", a tab here fails.
"""
import base64
import dataclasses
import io
import json

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from conftest import REPO_ROOT
from test_app import canvas_payload, component_data as component, run_app
from test_datasets import TOY_CLASSES, TOY_SHAPE, toy  # noqa: F401 (a fixture)

APP = str(REPO_ROOT / "app.py")
VIEWS = ["Latent pad", "Draw", "Test-set map", "Manifold", "Interpolate", "Train", "Model"]


@pytest.fixture
def toy_models(toy, tmp_path, monkeypatch):  # noqa: F811
    """models/ with the shipped reference and a model trained on the toy dataset, drawable here
    so that drawing is exercised at 16×16 too."""
    import shutil

    from vae import train
    from vae.data.datasets import DATASETS

    monkeypatch.setitem(DATASETS, toy.name, dataclasses.replace(toy, drawable=True, ink_box=11))
    root = tmp_path / "models"
    shutil.copytree(REPO_ROOT / "models" / "reference", root / "reference")
    assert train.main(["--dataset", "toy", "--epochs", "2", "--batch-size", "32",
                       "--out", str(root / "toy-model"), "--quiet"]) == 0
    monkeypatch.setenv("VAE_MODELS_DIR", str(root))
    return root


def run(view):
    return run_app(view, model="toy-model")


def test_every_tab_opens_on_a_toy_dataset(toy_models):
    for view in VIEWS:
        at = run(view)
        assert at.session_state["active_model"] == "toy-model", view
    text = "\n".join(c.value for c in at.sidebar.caption)
    assert "made by the test" in text  # the dataset's own credit, not MNIST's


def test_the_pad_gets_the_toy_classes_shapes_and_colours(toy_models, toy):  # noqa: F811
    payload = component(run("Latent pad"), "vae_latent_pad")["payload"]
    assert payload["class_names"] == list(TOY_CLASSES)
    assert payload["class_colors"] == list(toy.class_colors)
    assert payload["noun"] == "shape"
    assert payload["decoder"]["output_shape"] == [*TOY_SHAPE, 1]
    assert len(base64.b64decode(payload["labels"])) == 60  # one label per toy test image


def test_the_test_map_legend_and_a_pick_use_the_toy_classes(toy_models):
    at = run("Test-set map")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [t["name"] for t in spec["data"][:3]] == list(TOY_CLASSES)
    at.session_state["map_chart"] = {"selection": {"points": [{"x": 0.0, "y": 0.0, "customdata": 5}],
                                                   "point_indices": [0], "box": [], "lasso": []}}
    at.run()
    assert not at.exception
    text = "\n".join(m.value for m in at.markdown)
    assert "Test shape #5" in text and any(f"**{name}**" in text for name in TOY_CLASSES)


def test_drawing_is_preprocessed_to_the_toy_image_size(toy_models):
    payload, _ = canvas_payload(lambda d: d.rectangle([80, 80, 200, 200], outline=(0, 0, 0, 255), width=16))
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["model"] = "toy-model"
    at.query_params["view"] = "Draw"
    at.session_state["canvas_0"] = payload
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["drawn"]["image"].shape == TOY_SHAPE


def test_the_manifold_decodes_toy_sized_cells(toy_models):
    at = run("Manifold")
    at.slider(key="manifold_n").set_value(5).run()
    assert not at.exception
    source = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]["source"]
    grid = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))
    assert grid.size == (5 * TOY_SHAPE[1], 5 * TOY_SHAPE[0])


def test_the_model_tab_describes_the_toy_model_from_the_model(toy_models):
    at = run("Model")
    tables = [df.value for df in at.dataframe]
    decoder = tables[1]
    assert decoder["output"].iloc[-1] == f"{TOY_SHAPE[0]}×{TOY_SHAPE[1]}×1"
    assert "Toy shapes" in "\n".join(c.value for c in at.caption)
