"""A Keras decoder as plain data: a layer list plus float32 weights, for the browser.

The browser decodes while the pointer moves, so it needs the decoder without
TensorFlow: this module turns a functional Keras decoder into a versioned
description that a few dozen lines of JavaScript (vae/ui/latent_view/runtime.js)
can run. `numpy_decode` runs the same description in NumPy: it is the oracle that
ties the description's meaning to Keras, layer by layer.

Only what the decoders here use is supported: Dense, Reshape, Conv2D and
Conv2DTranspose (channels last, no dilation, no groups) with relu, sigmoid or
linear. Anything else raises ExportError naming the layer: a wrong picture is
worse than none.

Convolution geometry is exported explicitly (output size and the padding before
the first row and column), computed here once from Keras' rules, so the
JavaScript has no padding rules of its own to get wrong.
"""
import base64
import math

import numpy as np

FORMAT = "vae-decoder/1"
ACTIVATIONS = ("relu", "sigmoid", "linear")


class ExportError(ValueError):
    """The decoder holds a layer or setting the browser runtime cannot run exactly."""


def b64_float32(array):
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")


def from_b64_float32(text, shape):
    return np.frombuffer(base64.b64decode(text), dtype="<f4").reshape(shape)


def _activation(layer, config):
    name = config.get("activation", "linear")
    name = name if isinstance(name, str) else getattr(name, "__name__", str(name))
    if name not in ACTIVATIONS:
        raise ExportError(f"layer {layer.name!r} ({type(layer).__name__}) uses activation {name!r}; "
                          f"the browser decoder supports {', '.join(ACTIVATIONS)}")
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


def describe_decoder(decoder):
    """A functional Keras decoder → {"format", "latent_dim", "output_shape", "layers": [...]}."""
    shape = tuple(decoder.inputs[0].shape[1:])
    if len(shape) != 1:
        raise ExportError(f"the decoder's input must be a flat latent vector, got shape {shape}")
    latent_dim = int(shape[0])
    layers = []
    for layer in decoder.layers:
        kind = type(layer).__name__
        config = layer.get_config()
        if kind == "InputLayer":
            continue
        if kind == "Dense":
            if len(shape) != 1:
                raise ExportError(f"layer {layer.name!r}: Dense on a {len(shape)}-D tensor is not supported")
            weights = layer.get_weights()
            bias = weights[1] if config.get("use_bias", True) else np.zeros(config["units"], "float32")
            layers.append({"type": "dense", "input_shape": list(shape), "output_shape": [config["units"]],
                           "activation": _activation(layer, config),
                           "kernel": b64_float32(weights[0]), "bias": b64_float32(bias)})
            shape = (config["units"],)
        elif kind == "Reshape":
            target = tuple(int(v) for v in config["target_shape"])
            if -1 in target or math.prod(target) != math.prod(shape):
                raise ExportError(f"layer {layer.name!r}: cannot reshape {shape} to {target}")
            layers.append({"type": "reshape", "input_shape": list(shape), "output_shape": list(target)})
            shape = target
        elif kind in ("Conv2D", "Conv2DTranspose"):
            if len(shape) != 3:
                raise ExportError(f"layer {layer.name!r}: a convolution needs an (h, w, c) input, got {shape}")
            desc, shape = _describe_conv(layer, config, shape, transpose=kind == "Conv2DTranspose")
            layers.append(desc)
        else:
            raise ExportError(f"layer {layer.name!r} is a {kind}, which the browser decoder does not "
                              f"support (only Dense, Reshape, Conv2D, Conv2DTranspose)")
    expected = tuple(int(v) for v in decoder.outputs[0].shape[1:])
    if shape != expected:
        raise ExportError(f"the exported layers end in shape {shape}, but the decoder outputs {expected}")
    return {"format": FORMAT, "latent_dim": latent_dim, "output_shape": list(shape), "layers": layers}


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


def numpy_decode(description, z):
    """Run a description on latent points z (n, latent_dim) → (n, *output_shape), float64."""
    if description.get("format") != FORMAT:
        raise ExportError(f"unknown decoder format {description.get('format')!r}; expected {FORMAT}")
    x = np.atleast_2d(np.asarray(z, dtype="float64"))
    for layer in description["layers"]:
        kind = layer["type"]
        if kind == "reshape":
            x = x.reshape((len(x), *layer["output_shape"]))
            continue
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
        x = _activate(x + bias, layer["activation"])
    return x
