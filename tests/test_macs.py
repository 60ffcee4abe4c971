"""Multiply-adds per image, counted from the layers: tied to what Keras computes."""
import keras
import numpy as np
import pytest
from keras import layers

from vae.ml.architectures import build_decoder
from vae.ml.macs import architecture_macs, decoder_macs, layer_macs, training_macs
from vae.ml.model import build_vae


def impulse_products(layer, in_shape):
    """Products a layer really makes for 1 in / 1 out channel: the non-zeros of its matrix.

    With every kernel weight 1 and no bias, unit impulses through the layer give the
    matrix column by column; each non-zero is one input pixel times one kernel tap."""
    inputs = keras.Input(in_shape)
    model = keras.Model(inputs, layer(inputs))
    layer.set_weights([np.ones_like(w) for w in layer.get_weights()])
    n = int(np.prod(in_shape))
    basis = np.eye(n, dtype="float32").reshape((n, *in_shape))
    return int(np.count_nonzero(model(basis).numpy()))


@pytest.mark.parametrize("kind", [layers.Conv2D, layers.Conv2DTranspose])
@pytest.mark.parametrize("kernel, stride, padding", [
    (3, 1, "same"), (3, 2, "same"), (3, 1, "valid"), (3, 2, "valid"), (4, 2, "same"), (5, 3, "same")])
def test_a_convolutions_count_is_the_products_keras_makes(kind, kernel, stride, padding):
    layer = kind(1, kernel, strides=stride, padding=padding, use_bias=False)
    expected = impulse_products(layer, (7, 6, 1))
    assert layer_macs(layer) == expected > 0


def test_channels_and_dense_layers_multiply_in():
    inputs = keras.Input((5, 5, 3))
    conv = layers.Conv2D(4, 3, padding="valid")
    conv(inputs)
    assert layer_macs(conv) == 3 * 3 * 9 * 3 * 4
    dense = layers.Dense(7)
    dense(keras.Input((11,)))
    assert layer_macs(dense) == 77
    flatten = layers.Flatten()
    flatten(inputs)
    assert layer_macs(flatten) == 0


def test_the_reference_decoder_by_hand():
    # Dense 2→3136; ConvT(64→32) 7→14: 20 taps per axis; ConvT(32→1) 14→28: 41 taps per axis
    assert decoder_macs(build_decoder("reference")) == 2 * 3136 + 20 * 20 * 64 * 32 + 41 * 41 * 32


def test_training_is_three_passes_less_the_images_own_gradient():
    model = build_vae(arch="reference")
    first = layer_macs(model.encoder.layers[1])  # Conv2D(32) on the image
    counts = architecture_macs("reference")
    assert training_macs(model) == counts["training"] == 3 * counts["forward"] - first
    assert counts["forward"] == counts["encoder"] + counts["decode"]


def test_mlp_is_cheap_where_it_matters():
    mlp, reference, large = (architecture_macs(a) for a in ("mlp", "reference", "large"))
    assert mlp["training"] < reference["training"] / 4
    assert mlp["decode"] < large["decode"] / 10
