"""Multiply-adds per image: what a network costs, counted from its layers.

Counts the products that touch real data: a convolution's taps that fall on zero
padding (or, transposed, outside the output) are not counted, as the browser decoder
skips them too. Layers without multiply-adds (Flatten, Reshape, Sampling, activations)
count 0; the element-wise work of biases and activations is left out (a few percent).

A training step costs each layer its forward product, the same again for the weight
gradient, and once more for the gradient of its input, which the encoder's first layer
does not need (its input is the image): `training_macs`. Validation is not counted.
"""
from vae.ml.export import _conv_output_and_pad  # Keras' convolution geometry, in one place

MAC_LAYERS = ("Dense", "Conv2D", "Conv2DTranspose")


def _taps(length, kernel, stride, padding, transpose, output_padding=None):
    """(output length, kernel taps along one axis that pair a real input with a real output)."""
    out, pad = _conv_output_and_pad(length, kernel, stride, padding, transpose, output_padding)
    if transpose:  # input i scatters into out[i*stride + k - pad]
        taps = sum(0 <= i * stride + k - pad < out for i in range(length) for k in range(kernel))
    else:  # out o gathers in[o*stride + k - pad]
        taps = sum(0 <= o * stride + k - pad < length for o in range(out) for k in range(kernel))
    return out, taps


def layer_macs(layer):
    """Multiply-adds of one Keras layer for one image (0 for layers without products)."""
    kind = type(layer).__name__
    if kind not in MAC_LAYERS:
        return 0
    config = layer.get_config()
    in_shape = tuple(int(v) for v in layer.input.shape[1:])
    if kind == "Dense":
        if len(in_shape) != 1:
            raise ValueError(f"layer {layer.name!r}: Dense on a {len(in_shape)}-D tensor is not counted")
        return in_shape[0] * int(config["units"])
    h, w, in_c = in_shape
    kh, kw = config["kernel_size"]
    sh, sw = config["strides"]
    transpose = kind == "Conv2DTranspose"
    output_padding = tuple(config.get("output_padding") or (None, None)) if transpose else (None, None)
    _, taps_h = _taps(h, kh, sh, config["padding"], transpose, output_padding[0])
    _, taps_w = _taps(w, kw, sw, config["padding"], transpose, output_padding[1])
    return taps_h * taps_w * in_c * int(config["filters"])


def model_macs(model):
    """Forward multiply-adds of a functional Keras model for one image."""
    return sum(layer_macs(layer) for layer in model.layers)


def decoder_macs(decoder):
    """One decode: what the live pad computes per pointer move."""
    return model_macs(decoder)


def training_macs(vae):
    """One training image: forward, weight gradients and input gradients of encoder and decoder."""
    first = next(layer for layer in vae.encoder.layers if type(layer).__name__ in MAC_LAYERS)
    forward = model_macs(vae.encoder) + model_macs(vae.decoder)
    return 3 * forward - layer_macs(first)


def architecture_macs(arch, image_shape=(28, 28), latent_dim=2):
    """{"encoder", "decode", "forward", "training", "parameters"} for an architecture by name."""
    from vae.ml.model import VAE
    vae = VAE(latent_dim=latent_dim, arch=arch, image_shape=image_shape)
    encoder, decode = model_macs(vae.encoder), decoder_macs(vae.decoder)
    return {"encoder": encoder, "decode": decode, "forward": encoder + decode,
            "training": training_macs(vae),
            "parameters": vae.encoder.count_params() + vae.decoder.count_params()}
