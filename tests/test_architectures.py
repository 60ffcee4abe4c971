"""Every architecture: safe-load round trip with identical outputs, browser-decodable layers, size;
every shipped model loads in safe mode."""
import numpy as np
import pytest

import keras

from conftest import REPO_ROOT
from vae.store import disk
from vae.ml.architectures import ARCHITECTURES, build_decoder, build_encoder
from vae.data.datasets import MNIST
from vae.ml.model import VAE, build_vae, load_vae

# What the browser decoder implements (the live pad decodes with it)
DECODER_LAYERS = {"InputLayer", "Dense", "Reshape", "Conv2D", "Conv2DTranspose"}
DECODER_ACTIVATIONS = {"relu", "sigmoid", "linear"}
MAX_MODEL_BYTES = 5_000_000


def randomise_weights(model, seed=0):
    rng = np.random.default_rng(seed)
    for w in model.encoder.trainable_weights + model.decoder.trainable_weights:
        w.assign(rng.normal(0.0, 0.1, tuple(w.shape)).astype("float32"))


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
@pytest.mark.parametrize("image_shape", [MNIST.image_shape, (16, 16)])
def test_save_and_safe_load_gives_identical_weights_config_and_outputs(tmp_path, arch, image_shape):
    model = build_vae(latent_dim=3, beta=2.5, arch=arch, image_shape=image_shape, kl_reduction="sum")
    randomise_weights(model)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_vae(path)  # safe_mode=True
    assert isinstance(loaded, VAE)
    assert (loaded.arch, loaded.image_shape, loaded.kl_reduction, loaded.latent_dim, loaded.beta) == (
        arch, image_shape, "sum", 3, 2.5)
    for before, after in zip(model.trainable_weights, loaded.trainable_weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(before), keras.ops.convert_to_numpy(after))
    images = np.random.default_rng(1).random((6, *image_shape, 1), dtype=np.float32)
    for before, after in zip(model.encode(images), loaded.encode(images)):
        np.testing.assert_array_equal(before, after)
    z = np.random.default_rng(2).normal(size=(6, 3)).astype("float32")
    decoded = loaded.decode(z)
    assert decoded.shape == (6, *image_shape)
    np.testing.assert_array_equal(model.decode(z), decoded)


@pytest.mark.parametrize("model_dir", disk.list_model_dirs(REPO_ROOT / "models"), ids=lambda p: p.name)
def test_every_shipped_model_loads_in_safe_mode_with_the_sampling_layer_it_names(model_dir):
    """Sampling moved from vae.ml.model to vae.ml.architectures: Keras finds it by its registered name."""
    from vae.ml.config import recorded_arch
    model = keras.saving.load_model(model_dir / disk.MODEL_FILE, safe_mode=True, compile=False)
    assert isinstance(model, VAE) and model.arch == recorded_arch(disk.read_metadata(model_dir))
    sampling = model.encoder.get_layer("z")
    assert keras.saving.get_registered_name(type(sampling)) == "vae>Sampling"
    assert keras.saving.get_registered_object("vae>Sampling") is type(sampling)
    z_mean, _ = model.encode(np.zeros((1, *model.image_shape), "float32"))
    assert np.all(np.isfinite(z_mean))


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_decoder_uses_only_what_the_browser_decoder_supports(arch):
    for layer in build_decoder(arch).layers:
        assert type(layer).__name__ in DECODER_LAYERS, layer
        activation = getattr(layer, "activation", None)
        if activation is not None:
            assert activation.__name__ in DECODER_ACTIVATIONS, (layer, activation)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_encoder_outputs_mean_log_var_and_sample_of_the_latent_size(arch):
    encoder = build_encoder(arch, latent_dim=3)
    assert [tuple(o.shape) for o in encoder.outputs] == [(None, 3)] * 3
    assert tuple(build_decoder(arch, latent_dim=3).outputs[0].shape) == (None, *MNIST.image_shape, 1)


@pytest.mark.trainer  # a fit, for Adam's slots: seconds each
@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_a_trained_model_file_with_optimizer_state_stays_under_5_mb(tmp_path, arch):
    model = build_vae(arch=arch)
    model.fit(np.zeros((8, *MNIST.image_shape, 1), "float32"), epochs=1, batch_size=8, verbose=0)  # Adam's slots
    path = tmp_path / "model.keras"
    model.save(path)
    assert path.stat().st_size < MAX_MODEL_BYTES


def test_reference_is_the_default():
    assert build_vae().arch == "reference"  # its parameter counts: tests/test_model.py


def test_unknown_architecture_names_the_known_ones():
    with pytest.raises(ValueError, match="known: reference, large"):
        build_encoder("huge")


def test_image_sides_must_survive_two_stride_2_steps():
    with pytest.raises(ValueError, match="divisible by 4"):
        build_decoder("reference", image_shape=(30, 30))


def test_models_saved_before_arch_was_recorded_load_as_reference(tmp_path):
    import json
    import zipfile
    path = tmp_path / "old.keras"
    build_vae().save(path)
    with zipfile.ZipFile(path) as archive:  # strip the two new keys, as an old file lacks them
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    del config["config"]["arch"], config["config"]["image_shape"]
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    loaded = load_vae(path)
    assert (loaded.arch, loaded.image_shape) == ("reference", MNIST.image_shape)
    assert keras.saving.get_registered_name(type(loaded)) == "vae>VAE"
