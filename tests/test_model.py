"""The reference conv VAE: architecture, fast inference paths, and safe save/load."""
import json
import zipfile

import numpy as np
import pytest

import keras

from vae.ml.architectures import build_decoder as arch_decoder, build_encoder as arch_encoder
from vae.ml.model import VAE, build_vae
from vae.data.datasets import MNIST

SHAPE = MNIST.image_shape  # the post's 28x28: the parameter counts below are the post's


def build_encoder(latent_dim=2):
    return arch_encoder("reference", latent_dim, SHAPE)


def build_decoder(latent_dim=2):
    return arch_decoder("reference", latent_dim, SHAPE)


def expected_encoder_params(latent_dim):
    # conv 3x3x1->32, conv 3x3x32->64, dense 3136->16, two dense 16->latent (weights + biases)
    return (9 * 1 * 32 + 32) + (9 * 32 * 64 + 64) + (3136 * 16 + 16) + 2 * (16 * latent_dim + latent_dim)


def expected_decoder_params(latent_dim):
    # dense latent->3136, conv-transpose 3x3x64->32, conv-transpose 3x3x32->1
    return (latent_dim * 3136 + 3136) + (9 * 64 * 32 + 32) + (9 * 32 * 1 + 1)


def output_shapes(model):
    """Output shape of every non-input layer, in order."""
    return [tuple(layer.output.shape) for layer in model.layers
            if not isinstance(layer, keras.layers.InputLayer)]


def randomise_weights(model, seed=0):
    """Seeded random weights, so a loader that re-initialised instead of loading could not match."""
    rng = np.random.default_rng(seed)
    for w in model.encoder.trainable_weights + model.decoder.trainable_weights:
        w.assign(rng.normal(0.0, 0.2, tuple(w.shape)).astype("float32"))


def class_names(obj):
    """Every "class_name" anywhere in a saved Keras config."""
    if isinstance(obj, dict):
        found = [obj["class_name"]] if isinstance(obj.get("class_name"), str) else []
        return found + [name for value in obj.values() for name in class_names(value)]
    if isinstance(obj, list):
        return [name for value in obj for name in class_names(value)]
    return []


def saved_config(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """A non-default VAE with random weights, saved to a .keras file."""
    model = build_vae(latent_dim=3, beta=2.5, kl_reduction="sum")
    randomise_weights(model)
    path = tmp_path_factory.mktemp("saved") / "model.keras"
    model.save(path)
    return model, path


def test_parameter_counts_match_the_reference():
    assert build_encoder().count_params() == 69_076
    assert build_decoder().count_params() == 28_161
    model = VAE()  # the default: the reference architecture on the default dataset's images
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 69_076 + 28_161


def test_encoder_layer_output_shapes():
    assert output_shapes(build_encoder()) == [
        (None, 14, 14, 32), (None, 7, 7, 64), (None, 3136), (None, 16),
        (None, 2), (None, 2),  # z_mean, z_log_var
        (None, 2),  # the sampled z
    ]
    assert [tuple(o.shape) for o in build_encoder().outputs] == [(None, 2)] * 3


def test_decoder_layer_output_shapes():
    decoder = build_decoder()
    assert tuple(decoder.inputs[0].shape) == (None, 2)
    assert output_shapes(decoder) == [(None, 3136), (None, 7, 7, 64), (None, 14, 14, 32), (None, 28, 28, 1)]


@pytest.mark.parametrize("latent_dim", [1, 5, 16])
def test_latent_dim_changes_the_latent_shapes_and_nothing_else(latent_dim):
    encoder, decoder = build_encoder(latent_dim), build_decoder(latent_dim)
    assert [tuple(o.shape) for o in encoder.outputs] == [(None, latent_dim)] * 3
    assert tuple(decoder.inputs[0].shape) == (None, latent_dim)
    assert tuple(decoder.outputs[0].shape) == (None, 28, 28, 1)
    assert encoder.count_params() == expected_encoder_params(latent_dim)
    assert decoder.count_params() == expected_decoder_params(latent_dim)

    model = VAE(latent_dim=latent_dim)
    z_mean, z_log_var = model.encode(np.zeros((4, 28, 28, 1), "float32"))
    assert z_mean.shape == z_log_var.shape == (4, latent_dim)
    assert model.decode(np.zeros((3, latent_dim), "float32")).shape == (3, 28, 28)


def test_invalid_kl_reduction_is_rejected_by_the_model():
    with pytest.raises(ValueError, match="kl_reduction"):
        VAE(kl_reduction="median")


def test_encode_returns_mean_and_log_var_matching_the_encoder(saved_model):
    model, _ = saved_model
    images = np.random.default_rng(1).random((7, 28, 28, 1), dtype=np.float32)
    z_mean, z_log_var = model.encode(images)
    assert z_mean.shape == z_log_var.shape == (7, 3)
    assert z_mean.dtype == z_log_var.dtype == np.float32
    # The traced fast path must agree with a plain eager call of the encoder.
    eager_mean, eager_log_var, _ = model.encoder(images, training=False)
    np.testing.assert_allclose(z_mean, keras.ops.convert_to_numpy(eager_mean), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(z_log_var, keras.ops.convert_to_numpy(eager_log_var), rtol=1e-5, atol=1e-5)
    # (28, 28) and (n, 28, 28) inputs are accepted and reshaped
    single_mean, _ = model.encode(images[0, ..., 0])
    assert single_mean.shape == (1, 3)
    np.testing.assert_allclose(single_mean[0], z_mean[0], rtol=1e-5, atol=1e-5)


def test_decode_returns_images_in_unit_interval(saved_model):
    model, _ = saved_model
    z = np.random.default_rng(2).normal(0.0, 3.0, (9, 3)).astype("float32")
    images = model.decode(z)
    assert images.shape == (9, 28, 28)
    assert images.dtype == np.float32
    assert np.all(images >= 0.0) and np.all(images <= 1.0)
    assert images.std() > 0  # not a constant: the weights were randomised
    eager = keras.ops.convert_to_numpy(model.decoder(z, training=False))[..., 0]
    np.testing.assert_allclose(images, eager, rtol=1e-5, atol=1e-6)


def all_layers(model):
    """Every layer inside a model, recursively."""
    found = []
    for layer in getattr(model, "layers", []):
        found += [layer] + all_layers(layer)
    return found


def test_saved_file_has_no_lambda_and_loads_in_safe_mode(saved_model):
    _, path = saved_model
    config = saved_config(path)
    names = class_names(config)
    assert config["class_name"] == "VAE" and config["registered_name"] == "vae>VAE"
    assert "Lambda" not in names
    loaded = keras.saving.load_model(path, safe_mode=True)  # with compile, Keras' default
    assert isinstance(loaded, VAE)
    # The VAE rebuilds its encoder and decoder from code, so check the live layers too.
    layer_types = {type(layer).__name__ for layer in all_layers(loaded)}
    assert {"Conv2D", "Conv2DTranspose", "Dense", "Sampling"} <= layer_types
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in all_layers(loaded))


def test_lambda_check_detects_a_lambda_layer(tmp_path):
    """Control for the test above: the same check flags a model that does use a Lambda."""
    inputs = keras.Input((2,))
    outputs = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    assert "Lambda" in class_names(saved_config(path))
    assert any(isinstance(layer, keras.layers.Lambda) for layer in all_layers(keras.Model(inputs, outputs)))
    with pytest.raises(ValueError):
        keras.saving.load_model(path, safe_mode=True)
