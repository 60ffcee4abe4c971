"""The exported decoder and encoder mean what Keras computes: checked through vae.ml.export's
NumPy oracles (the browser runtime is held to the same descriptions in tests/e2e)."""
import json
import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import layers

from conftest import REPO_ROOT
from vae.data.arrays import to_model_input
from vae.ml.architectures import sampling_layer
from vae.ml.export import (ExportError, b64_float32, describe_decoder, describe_encoder, from_b64_float32,
                           numpy_decode, numpy_encode)

Z = np.random.default_rng(0).normal(size=(6, 2)).astype("float32") * 2


def random_weights(model, seed=1, scale=0.4):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.normal(size=w.shape).astype("float32") * scale)
    return model


def decoder(*body, start=(5, 5, 3)):
    inputs = keras.Input((2,))
    x = layers.Dense(int(np.prod(start)), activation="relu")(inputs)
    x = layers.Reshape(start)(x)
    for layer in body:
        x = layer(x)
    return random_weights(keras.Model(inputs, x))


CONFIGS = [  # (kernel, stride, padding, output_padding) that Keras' TensorFlow backend runs
    (k, s, pad, op) for k in (2, 3, 4, 5) for s in (1, 2, 3) for pad in ("same", "valid")
    for op in (None, 0, 1) if (op is None or op < s) and not (pad == "same" and op == 0 and k % 2 == 0)
]


@pytest.mark.parametrize("kernel, stride, padding, output_padding", CONFIGS)
def test_conv_transpose_then_conv_match_keras(kernel, stride, padding, output_padding):
    model = decoder(
        layers.Conv2DTranspose(4, kernel, strides=stride, padding=padding, output_padding=output_padding,
                               activation="relu"),
        layers.Conv2D(2, kernel, strides=stride, padding=padding, activation="sigmoid"))
    description = describe_decoder(model)
    assert np.abs(numpy_decode(description, Z) - model(Z).numpy()).max() < 1e-5


def test_the_shipped_reference_decoder_matches_keras():
    from vae.ml.model import load_vae
    model = load_vae(REPO_ROOT / "models" / "reference" / "model.keras")
    description = describe_decoder(model.decoder)
    assert [layer["type"] for layer in description["layers"]] == [
        "dense", "reshape", "conv2d_transpose", "conv2d_transpose"]
    assert np.abs(numpy_decode(description, Z)[..., 0] - model.decode(Z)).max() < 1e-5
    json.dumps(description)  # it travels as JSON


# -- the encoder: odd image sizes, two channels, every kernel 1-5, stride 1-3 and padding

IMAGES = np.random.default_rng(3).uniform(size=(6, 13, 11, 2)).astype("float32")


def encoder(*body, image=IMAGES.shape[1:], heads_on=None):
    """image → body → Flatten → Dense → the heads z_mean, z_log_var and the Sampling layer z,
    as vae.ml.architectures builds them. `heads_on(x)` may put the heads elsewhere."""
    inputs = keras.Input(image)
    x = inputs
    for layer in body:
        x = layer(x)
    x = layers.Dense(6, activation="relu")(layers.Flatten()(x))
    z_mean = layers.Dense(2, name="z_mean")(x)
    z_log_var = layers.Dense(2, name="z_log_var")(heads_on(x) if heads_on else x)
    z = sampling_layer()(name="z")([z_mean, z_log_var])
    # weights a little smaller than the decoders': codes of a few units, as trained encoders give,
    # so that 1e-5 is float32's rounding, not a tolerance stretched over large numbers
    return random_weights(keras.Model(inputs, [z_mean, z_log_var, z]), scale=0.25)


def keras_encode(model, images):
    z_mean, z_log_var, _ = model(images)
    return z_mean.numpy(), z_log_var.numpy()


def worst_difference(a, b):
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b))


ENCODER_CONFIGS = [(k, s, pad) for k in (1, 2, 3, 4, 5) for s in (1, 2, 3) for pad in ("same", "valid")]


@pytest.mark.parametrize("kernel, stride, padding", ENCODER_CONFIGS)
def test_conv_encoder_matches_keras(kernel, stride, padding):
    """The configuration's Conv2D on a 13×11 image, then a non-square one (kernel 2×3, strides
    1×2) on what it leaves, down to 3×3 (kernel 5, stride 3, valid)."""
    model = encoder(layers.Conv2D(3, kernel, strides=stride, padding=padding, activation="relu"),
                    layers.Conv2D(4, (2, 3), strides=(1, 2), padding=padding, activation="relu"))
    description = describe_encoder(model)
    assert [layer["type"] for layer in description["layers"]] == ["conv2d", "conv2d", "reshape", "dense"]
    assert worst_difference(numpy_encode(description, IMAGES), keras_encode(model, IMAGES)) < 1e-5


def test_the_encoder_ends_at_the_heads_and_leaves_out_sampling():
    model = encoder(layers.Conv2D(3, 3, strides=2, padding="same", activation="relu"))
    description = describe_encoder(model)
    assert description["format"] == "vae-encoder/1" and description["input_shape"] == [13, 11, 2]
    assert description["latent_dim"] == 2
    assert [layer["type"] for layer in description["layers"]] == ["conv2d", "reshape", "dense"]
    assert description["z_mean"]["output_shape"] == description["z_log_var"]["output_shape"] == [2]
    assert description["z_mean"]["kernel"] != description["z_log_var"]["kernel"]
    json.dumps(description)  # it travels as JSON


def test_a_transposed_encoder_kernel_or_a_shifted_pad_breaks_the_match():
    model = encoder(layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
                    layers.Conv2D(3, 3, padding="valid", activation="relu"))
    description = describe_encoder(model)
    reference = keras_encode(model, IMAGES)
    transposed = json.loads(json.dumps(description))
    conv = transposed["layers"][0]
    kernel = from_b64_float32(conv["kernel"], (3, 3, 2, 4))
    conv["kernel"] = b64_float32(kernel.transpose(1, 0, 2, 3))
    shifted = json.loads(json.dumps(description))
    shifted["layers"][0]["pad"][1] += 1
    assert worst_difference(numpy_encode(description, IMAGES), reference) < 1e-5  # the control
    for broken in (transposed, shifted):
        assert worst_difference(numpy_encode(broken, IMAGES), reference) > 1e-4


@pytest.mark.parametrize("body, message", [
    ([layers.Conv2D(2, 3, activation="tanh")], "activation 'tanh'"),
    ([layers.Conv2D(2, 3, dilation_rate=2)], "dilated"),
    ([layers.BatchNormalization()], "BatchNormalization"),
    ([layers.MaxPooling2D()], "MaxPooling2D"),
    ([layers.Dropout(0.5)], "Dropout"),
    ([layers.Conv2DTranspose(2, 3)], "Conv2DTranspose"),
])
def test_unsupported_encoder_layers_are_refused_by_name(body, message):
    with pytest.raises(ExportError, match=message):
        describe_encoder(encoder(*body))


def test_an_encoder_that_is_not_a_plain_chain_is_refused():
    inputs = keras.Input(IMAGES.shape[1:])
    x = layers.Conv2D(2, 3, padding="same")(inputs)
    x = layers.Flatten()(layers.Add(name="skip")([x, inputs]))
    z_mean, z_log_var = layers.Dense(2)(x), layers.Dense(2)(x)
    with pytest.raises(ExportError, match="'skip' \\(Add\\)"):
        describe_encoder(keras.Model(inputs, [z_mean, z_log_var]))
    with pytest.raises(ExportError, match="read different tensors"):  # z_log_var on other features
        describe_encoder(encoder(heads_on=layers.Dense(3, name="extra")))


SHIPPED = [d for d in sorted((REPO_ROOT / "models").iterdir()) if (d / "model.keras").is_file()]
MAX_MODEL_BYTES = 5_000_000


@pytest.mark.parametrize("model_dir", SHIPPED, ids=lambda d: d.name)
def test_every_shipped_model_ships_current_browser_files_that_match_keras(model_dir):
    from vae.store.browser_files import read_browser_files
    from vae.store.versions import open_dir
    assert (model_dir / "model.keras").stat().st_size < MAX_MODEL_BYTES
    shipped = read_browser_files(model_dir)
    assert shipped is not None, f"{model_dir.name}: decoder.json, encoder.json or test_codes.npz missing or stale"
    version = open_dir(model_dir)
    model = version.load_model()
    assert shipped.decoder["layers"] == describe_decoder(model.decoder)["layers"]
    assert np.abs(numpy_decode(shipped.decoder, Z)[..., 0] - model.decode(Z)).max() < 1e-5
    exported = describe_encoder(model.encoder)
    assert {key: shipped.encoder[key] for key in exported} == exported
    images = to_model_input(version.test_set()["x_test"][:20])
    assert worst_difference(numpy_encode(shipped.encoder, images), model.encode(images)) < 1e-5
    assert np.abs(shipped.z_mean[:20] - model.encode(images)[0]).max() < 1e-5  # the codes, too


def test_a_transposed_kernel_or_a_shifted_pad_breaks_the_match():
    model = decoder(layers.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu"),
                    layers.Conv2D(1, 3, padding="same", activation="sigmoid"))
    description = describe_decoder(model)
    reference = model(Z).numpy()
    transposed = json.loads(json.dumps(description))
    conv = transposed["layers"][2]
    kh, kw = conv["kernel_size"]
    kernel = from_b64_float32(conv["kernel"], (kh, kw, conv["output_shape"][2], conv["input_shape"][2]))
    conv["kernel"] = b64_float32(kernel.transpose(1, 0, 2, 3))
    shifted = json.loads(json.dumps(description))
    shifted["layers"][2]["pad"][0] += 1
    for broken in (transposed, shifted):
        assert np.abs(numpy_decode(broken, Z) - reference).max() > 1e-4


@pytest.mark.parametrize("layer, message", [
    (layers.Conv2DTranspose(2, 3, activation="tanh"), "activation 'tanh'"),
    (layers.BatchNormalization(), "BatchNormalization"),
    (layers.Conv2D(2, 3, dilation_rate=2), "dilated"),
    (layers.UpSampling2D(), "UpSampling2D"),
])
def test_unsupported_layers_are_refused_by_name(layer, message):
    model = decoder(layer, start=(7, 7, 3))
    with pytest.raises(ExportError, match=message):
        describe_decoder(model)


def test_browser_files_are_made_once_and_go_stale_with_the_model(tmp_path, tiny_model_dir):
    import shutil
    from vae.store.browser_files import CODES_FILE, DECODER_FILE, ENCODER_FILE, read_browser_files
    from vae.explorer import open_explorer

    model_dir = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, model_dir)
    for name in (DECODER_FILE, ENCODER_FILE, CODES_FILE):
        (model_dir / name).unlink()  # a model saved before the browser files existed
    first = open_explorer(model_dir)
    assert first.prepared_now and (model_dir / DECODER_FILE).is_file() and (model_dir / ENCODER_FILE).is_file()
    again = open_explorer(model_dir)
    assert not again.prepared_now
    assert np.array_equal(again.z_test, first.z_test)
    expected, _ = first.model.encode(first.x_test[:5][..., None] / 255.0)
    assert np.allclose(again.z_test[:5], expected, atol=1e-5)
    with open(model_dir / "model.keras", "ab") as f:  # a replaced model: the old codes are stale
        f.write(b"\0")
    assert read_browser_files(model_dir) is None


def test_a_model_saved_before_the_encoder_was_exported_gets_encoder_json_alone_once(tmp_path, tiny_model_dir):
    import shutil
    from vae.store.browser_files import CODES_FILE, DECODER_FILE, ENCODER_FILE, stale_browser_files
    from vae.explorer import open_explorer

    model_dir = tmp_path / "older"
    shutil.copytree(tiny_model_dir, model_dir)
    (model_dir / ENCODER_FILE).unlink()
    assert stale_browser_files(model_dir) == [ENCODER_FILE]
    kept = {name: (model_dir / name).stat().st_mtime_ns for name in (DECODER_FILE, CODES_FILE)}
    first = open_explorer(model_dir)
    assert first.prepared_now and stale_browser_files(model_dir) == []
    assert {name: (model_dir / name).stat().st_mtime_ns for name in kept} == kept, "only encoder.json is made"
    again = open_explorer(model_dir)
    assert not again.prepared_now
    encoder = again.browser_payload()["encoder"]
    assert encoder == json.loads((model_dir / ENCODER_FILE).read_text()) and encoder["format"] == "vae-encoder/1"
    images = to_model_input(again.x_test[:8])
    assert worst_difference(numpy_encode(encoder, images), first.model.encode(images)) < 1e-5
    shutil.copy(REPO_ROOT / "models" / "reference" / ENCODER_FILE, model_dir / ENCODER_FILE)
    assert stale_browser_files(model_dir) == [ENCODER_FILE]  # another model's encoder is stale here


def test_the_first_page_needs_no_tensorflow():
    """The pad's first page is made from files: TensorFlow is imported only later, in the
    background, once the page reports that it holds the model."""
    code = ("import sys\nfrom streamlit.testing.v1 import AppTest\n"
            "at = AppTest.from_file('app.py', default_timeout=120); at.run()\n"
            "assert not at.exception, at.exception\n"
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
