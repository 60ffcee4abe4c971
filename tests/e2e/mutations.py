"""Mutation controls for the parity tests of an exported network (vae/ml/export.py): the same
description with one deliberate mistake, so a test shows its check can fail. Shared by the
decoder's and the encoder's parity tests, which differ only in the layers they pick."""
import copy

import numpy as np

from vae.ml.export import b64_float32, from_b64_float32


def _kernel_shape(layer):
    """The stored kernel's shape: Conv2D (kh, kw, in, out), Conv2DTranspose (kh, kw, out, in),
    Dense (in, out)."""
    if layer["type"] == "dense":
        return layer["input_shape"][0], layer["output_shape"][0]
    kh, kw = layer["kernel_size"]
    cin, cout = layer["input_shape"][2], layer["output_shape"][2]
    return (kh, kw, cin, cout) if layer["type"] == "conv2d" else (kh, kw, cout, cin)


def _pick(description, kinds, dense):
    """(a copy of the description, the first layer of `kinds` in it, or else its Dense layer at
    index `dense`: 0 the first, -1 the last)."""
    mutated = copy.deepcopy(description)
    layer = next((l for l in mutated["layers"] if l["type"] in kinds), None)
    return mutated, layer or [l for l in mutated["layers"] if l["type"] == "dense"][dense]


def transposed_kernel(description, kinds, dense):
    """Swap the two spatial axes of the first convolution of `kinds`; a network of Dense layers
    only gets that Dense kernel read in the other memory order."""
    mutated, layer = _pick(description, kinds, dense)
    kernel = from_b64_float32(layer["kernel"], _kernel_shape(layer))
    if layer["type"] == "dense":
        layer["kernel"] = b64_float32(np.ascontiguousarray(kernel.T).reshape(kernel.shape))
    else:
        layer["kernel"] = b64_float32(np.swapaxes(kernel, 0, 1))
        layer["kernel_size"] = layer["kernel_size"][::-1]
    return mutated


def padding_off_by_one(description, kinds, dense):
    """One more row of padding at the top of the first convolution of `kinds`; a network of
    Dense layers only gets that Dense layer's outputs shifted by one unit."""
    mutated, layer = _pick(description, kinds, dense)
    if layer["type"] != "dense":
        layer["pad"] = [layer["pad"][0] + 1, layer["pad"][1]]
        return mutated
    kernel = from_b64_float32(layer["kernel"], _kernel_shape(layer))
    bias = from_b64_float32(layer["bias"], (kernel.shape[1],))
    layer["kernel"], layer["bias"] = b64_float32(np.roll(kernel, 1, axis=1)), b64_float32(np.roll(bias, 1))
    return mutated
