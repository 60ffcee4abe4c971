"""A Keras decoder and encoder as plain data: layer lists plus float32 weights, for the browser.

The browser decodes while the pointer moves, and will encode a drawing while it is drawn, so
it needs both halves of the model without TensorFlow: this module turns a functional Keras
decoder or encoder into a versioned description that a few dozen lines of JavaScript
(vae/ui/latent_view/runtime.js) can run. `numpy_decode` and `numpy_encode` run the same
descriptions in NumPy: they are the oracles that tie a description's meaning to Keras, layer
by layer.

Only what the models here use is supported, with relu, sigmoid or linear activations:
  decoder  Dense, Reshape, Conv2D, Conv2DTranspose
  encoder  Conv2D, Flatten, Dense, then the two Dense heads z_mean and z_log_var
(convolutions channels last, no dilation, no groups). Anything else raises ExportError naming
the layer: a wrong picture, or a wrong code, is worse than none. Both sides share one
description per layer kind, so the JavaScript has one meaning to get right for each.

The encoder's description ("vae-encoder/1") ends at the heads: it outputs (z_mean, z_log_var).
Its Sampling layer is not exported; the page draws ε itself when it wants a sample.

Convolution geometry is exported explicitly (output size and the padding before
the first row and column), computed here once from Keras' rules, so the
JavaScript has no padding rules of its own to get wrong.
"""
import base64
import math

import numpy as np

FORMAT = "vae-decoder/1"
ENCODER_FORMAT = "vae-encoder/1"
ACTIVATIONS = ("relu", "sigmoid", "linear")


class ExportError(ValueError):
    """The model holds a layer or setting the browser runtime cannot run exactly."""


def b64_float32(array):
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")


def from_b64_float32(text, shape):
    return np.frombuffer(base64.b64decode(text), dtype="<f4").reshape(shape)


def _activation(layer, config):
    name = config.get("activation", "linear")
    name = name if isinstance(name, str) else getattr(name, "__name__", str(name))
    if name not in ACTIVATIONS:
        raise ExportError(f"layer {layer.name!r} ({type(layer).__name__}) uses activation {name!r}; "
                          f"the browser runtime supports {', '.join(ACTIVATIONS)}")
    return name


def _conv_output_and_pad(length, kernel, stride, padding, transpose, output_padding=None):
    """(output length, padding before) along one axis, by Keras' and TensorFlow's rules."""
    if not transpose:
        out = math.ceil(length / stride) if padding == "same" else (length - kernel) // stride + 1
        total = max((out - 1) * stride + kernel - length, 0) if padding == "same" else 0
        return out, total // 2
    # keras.src.ops.operation_utils.compute_conv_transpose_output_shape, dilation 1
    if output_padding is None:
        out = length * stride + (max(kernel - stride, 0) if padding == "valid" else 0)
    else:
        pad = kernel // 2 if padding == "same" else 0
        out = (length - 1) * stride + kernel - 2 * pad + output_padding
    # TensorFlow pads the forward convolution (out → length) and transposes it
    total = max((length - 1) * stride + kernel - out, 0) if padding == "same" else 0
    return out, total // 2


def _describe_conv(layer, config, shape, transpose):
    if config.get("data_format", "channels_last") != "channels_last":
        raise ExportError(f"layer {layer.name!r}: only channels_last convolutions are supported")
    if tuple(config.get("dilation_rate", (1, 1))) != (1, 1) or config.get("groups", 1) != 1:
        raise ExportError(f"layer {layer.name!r}: dilated or grouped convolutions are not supported")
    padding = config["padding"]
    if padding not in ("same", "valid"):
        raise ExportError(f"layer {layer.name!r}: padding {padding!r} is not supported")
    weights = layer.get_weights()
    kernel = weights[0]
    bias = weights[1] if config.get("use_bias", True) else np.zeros(config["filters"], "float32")
    if transpose:  # Keras stores (kh, kw, out, in) for Conv2DTranspose
        kh, kw, out_c, in_c = kernel.shape
    else:
        kh, kw, in_c, out_c = kernel.shape
    (sh, sw) = config["strides"]
    output_padding = config.get("output_padding") if transpose else None
    op = (None, None) if output_padding is None else tuple(output_padding)
    h, w, c = shape
    if c != in_c:
        raise ExportError(f"layer {layer.name!r} expects {in_c} channels, gets {c}")
    out_h, pad_top = _conv_output_and_pad(h, kh, sh, padding, transpose, op[0])
    out_w, pad_left = _conv_output_and_pad(w, kw, sw, padding, transpose, op[1])
    desc = {"type": "conv2d_transpose" if transpose else "conv2d",
            "kernel_size": [kh, kw], "strides": [sh, sw], "pad": [pad_top, pad_left],
            "input_shape": [h, w, in_c], "output_shape": [out_h, out_w, out_c],
            "activation": _activation(layer, config),
            "kernel": b64_float32(kernel), "bias": b64_float32(bias)}
    return desc, (out_h, out_w, out_c)


def _describe_dense(layer, config, shape):
    if len(shape) != 1:
        raise ExportError(f"layer {layer.name!r}: Dense on a {len(shape)}-D tensor is not supported")
    weights = layer.get_weights()
    bias = weights[1] if config.get("use_bias", True) else np.zeros(config["units"], "float32")
    desc = {"type": "dense", "input_shape": list(shape), "output_shape": [config["units"]],
            "activation": _activation(layer, config),
            "kernel": b64_float32(weights[0]), "bias": b64_float32(bias)}
    return desc, (config["units"],)


def _describe_reshape(layer, config, shape):
    target = tuple(int(v) for v in config["target_shape"])
    if -1 in target or math.prod(target) != math.prod(shape):
        raise ExportError(f"layer {layer.name!r}: cannot reshape {shape} to {target}")
    return {"type": "reshape", "input_shape": list(shape), "output_shape": list(target)}, target


def _describe_flatten(layer, config, shape):
    # Channels last, a Flatten keeps the row-major buffer as it is: it is a reshape to one axis.
    # Channels first would move the channels to the front first, which a reshape cannot say.
    if config.get("data_format", "channels_last") != "channels_last":
        raise ExportError(f"layer {layer.name!r}: only a channels_last Flatten is supported")
    target = (math.prod(shape),)
    return {"type": "reshape", "input_shape": list(shape), "output_shape": list(target)}, target


def _describe_convolution(layer, config, shape):
    if len(shape) != 3:
        raise ExportError(f"layer {layer.name!r}: a convolution needs an (h, w, c) input, got {shape}")
    return _describe_conv(layer, config, shape, transpose=type(layer).__name__ == "Conv2DTranspose")


# Keras layer class → its description; each side of the model names the kinds it accepts.
DESCRIBE = {"Dense": _describe_dense, "Reshape": _describe_reshape, "Flatten": _describe_flatten,
            "Conv2D": _describe_convolution, "Conv2DTranspose": _describe_convolution}
DECODER_LAYERS = ("Dense", "Reshape", "Conv2D", "Conv2DTranspose")
ENCODER_LAYERS = ("Conv2D", "Flatten", "Dense")


def _describe_layers(layers, shape, supported, side):
    """([description of each layer], the shape they end in), from the input `shape` on."""
    described = []
    for layer in layers:
        kind = type(layer).__name__
        if kind not in supported:
            raise ExportError(f"layer {layer.name!r} is a {kind}, which the browser {side} does not "
                              f"support (only {', '.join(supported)})")
        desc, shape = DESCRIBE[kind](layer, layer.get_config(), shape)
        described.append(desc)
    return described, shape


def _output_shape(tensor):
    return tuple(int(v) for v in tensor.shape[1:])


def describe_decoder(decoder):
    """A functional Keras decoder → {"format", "latent_dim", "output_shape", "layers": [...]}."""
    shape = _output_shape(decoder.inputs[0])
    if len(shape) != 1:
        raise ExportError(f"the decoder's input must be a flat latent vector, got shape {shape}")
    latent_dim = shape[0]
    body = [layer for layer in decoder.layers if type(layer).__name__ != "InputLayer"]
    layers, shape = _describe_layers(body, shape, DECODER_LAYERS, "decoder")
    expected = _output_shape(decoder.outputs[0])
    if shape != expected:
        raise ExportError(f"the exported layers end in shape {shape}, but the decoder outputs {expected}")
    return {"format": FORMAT, "latent_dim": latent_dim, "output_shape": list(shape), "layers": layers}


def _producers(model):
    """{id(tensor): the layer whose output it is} over a functional model's layers."""
    return {id(layer.output): layer for layer in model.layers if not isinstance(layer.output, (list, tuple))}


def _named(layer):
    return "no layer of the encoder" if layer is None else f"layer {layer.name!r} ({type(layer).__name__})"


def _heads(encoder, made_by):
    """(z_mean layer, z_log_var layer): the Dense layers that make the first two outputs, on the
    same features."""
    if len(encoder.outputs) not in (2, 3):
        raise ExportError(f"the encoder must output (z_mean, z_log_var[, z]), got {len(encoder.outputs)} outputs")
    heads = [made_by.get(id(tensor)) for tensor in encoder.outputs[:2]]
    for head, role in zip(heads, ("z_mean", "z_log_var")):
        if head is None or type(head).__name__ != "Dense":
            raise ExportError(f"the encoder's {role} is made by {_named(head)}; the browser encoder "
                              f"needs a Dense head")
    if heads[0].input is not heads[1].input:
        raise ExportError(f"the heads {heads[0].name!r} and {heads[1].name!r} read different tensors; "
                          f"the browser encoder needs both on the same features")
    return heads


def _body(encoder, features, made_by):
    """The layers from the image to `features`, in order: followed back one input at a time, so
    anything but a plain chain (a skip, a merge) is refused by name."""
    body = []
    while features is not encoder.inputs[0]:
        layer = made_by.get(id(features))
        if layer is None or isinstance(layer.input, (list, tuple)):
            raise ExportError(f"the encoder's features pass through {_named(layer)}, which does not "
                              f"take one input; the browser encoder runs a plain chain of layers")
        body.insert(0, layer)
        features = layer.input
    return body


def _refuse_layers_off_the_path(encoder, path, made_by):
    """Keras keeps only the layers that lead to an output, so a layer off the path to the heads
    makes z: only the Sampling layer may, and the page replaces it by drawing ε itself."""
    on_path = {id(layer) for layer in path}
    sampler = made_by.get(id(encoder.outputs[2])) if len(encoder.outputs) == 3 else None
    for layer in encoder.layers:
        kind = type(layer).__name__
        if id(layer) in on_path or kind == "InputLayer" or (layer is sampler and kind == "Sampling"):
            continue
        raise ExportError(f"layer {layer.name!r} is a {kind} beside the path from the image to z_mean and "
                          f"z_log_var, which the browser encoder does not support (only the Sampling layer)")


def _encoder_path(encoder):
    """(body layers from the image on, z_mean layer, z_log_var layer)."""
    made_by = _producers(encoder)
    z_mean, z_log_var = _heads(encoder, made_by)
    body = _body(encoder, z_mean.input, made_by)
    _refuse_layers_off_the_path(encoder, [*body, z_mean, z_log_var], made_by)
    return body, z_mean, z_log_var


def _describe_head(layer, features):
    """One head, described from the body's output: both heads read the same features."""
    [head], _ = _describe_layers([layer], features, ("Dense",), "encoder")
    return head


def describe_encoder(encoder):
    """A functional Keras encoder → {"format", "input_shape", "latent_dim", "layers": [...],
    "z_mean": dense, "z_log_var": dense}: the layers run in order, then both heads on their output."""
    shape = _output_shape(encoder.inputs[0])
    if len(shape) != 3:
        raise ExportError(f"the encoder's input must be an (h, w, c) image, got shape {shape}")
    body, z_mean, z_log_var = _encoder_path(encoder)
    layers, features = _describe_layers(body, shape, ENCODER_LAYERS, "encoder")
    mean, log_var = (_describe_head(head, features) for head in (z_mean, z_log_var))
    (latent_dim,), log_var_dim = mean["output_shape"], log_var["output_shape"]
    if log_var_dim != [latent_dim]:
        raise ExportError(f"z_mean has {latent_dim} dims but z_log_var has {log_var_dim[0]}")
    return {"format": ENCODER_FORMAT, "input_shape": list(shape), "latent_dim": latent_dim,
            "layers": layers, "z_mean": mean, "z_log_var": log_var}


# -- the same arithmetic in NumPy: the reference the JavaScript is held to

def _activate(x, name):
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    return x


def _conv2d(x, layer, kernel):
    """Cross-correlation: out[y, x] = sum_k in[y*s + k - pad] * w[k] (what Keras computes)."""
    (kh, kw), (sh, sw), (pt, pl) = layer["kernel_size"], layer["strides"], layer["pad"]
    out_h, out_w, out_c = layer["output_shape"]
    n, h, w, _ = x.shape
    out = np.zeros((n, out_h, out_w, out_c), "float64")
    for ky in range(kh):
        for kx in range(kw):
            for oy in range(out_h):
                iy = oy * sh + ky - pt
                if not 0 <= iy < h:
                    continue
                for ox in range(out_w):
                    ix = ox * sw + kx - pl
                    if 0 <= ix < w:
                        out[:, oy, ox] += x[:, iy, ix] @ kernel[ky, kx]
    return out


def _conv2d_transpose(x, layer, kernel):
    """The transpose of that: each input pixel scatters into out[i*s + k - pad]."""
    (kh, kw), (sh, sw), (pt, pl) = layer["kernel_size"], layer["strides"], layer["pad"]
    out_h, out_w, out_c = layer["output_shape"]
    n, h, w, _ = x.shape
    out = np.zeros((n, out_h, out_w, out_c), "float64")
    for ky in range(kh):
        for kx in range(kw):
            tap = kernel[ky, kx]  # (out, in)
            for iy in range(h):
                oy = iy * sh + ky - pt
                if not 0 <= oy < out_h:
                    continue
                for ix in range(w):
                    ox = ix * sw + kx - pl
                    if 0 <= ox < out_w:
                        out[:, oy, ox] += x[:, iy, ix] @ tap.T
    return out


def _numpy_layer(layer, x):
    """One described layer on a batch x (n, *input_shape), in float64."""
    kind = layer["type"]
    if kind == "reshape":
        return x.reshape((len(x), *layer["output_shape"]))
    in_shape, out_shape = layer["input_shape"], layer["output_shape"]
    bias = from_b64_float32(layer["bias"], (out_shape[-1],)).astype("float64")
    if kind == "dense":
        kernel = from_b64_float32(layer["kernel"], (in_shape[0], out_shape[0])).astype("float64")
        x = x @ kernel
    elif kind == "conv2d":
        kh, kw = layer["kernel_size"]
        x = _conv2d(x, layer, from_b64_float32(layer["kernel"], (kh, kw, in_shape[2], out_shape[2])))
    elif kind == "conv2d_transpose":
        kh, kw = layer["kernel_size"]
        x = _conv2d_transpose(x, layer, from_b64_float32(layer["kernel"], (kh, kw, out_shape[2], in_shape[2])))
    else:
        raise ExportError(f"unknown layer type {kind!r} in the description")
    return _activate(x + bias, layer["activation"])


def _numpy_layers(layers, x):
    for layer in layers:
        x = _numpy_layer(layer, x)
    return x


def _check_format(description, expected):
    if description.get("format") != expected:
        raise ExportError(f"unknown description format {description.get('format')!r}; expected {expected}")


def numpy_decode(description, z):
    """Run a decoder description on latent points z (n, latent_dim) → (n, *output_shape), float64."""
    _check_format(description, FORMAT)
    return _numpy_layers(description["layers"], np.atleast_2d(np.asarray(z, dtype="float64")))


def numpy_encode(description, images):
    """Run an encoder description on images (n, *input_shape), or (n, h, w) for one channel,
    in [0, 1] → (z_mean, z_log_var), each (n, latent_dim), float64."""
    _check_format(description, ENCODER_FORMAT)
    x = np.asarray(images, dtype="float64").reshape((-1, *description["input_shape"]))
    features = _numpy_layers(description["layers"], x)
    return _numpy_layer(description["z_mean"], features), _numpy_layer(description["z_log_var"], features)
