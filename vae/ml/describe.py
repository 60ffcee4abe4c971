"""A Keras model described from itself: its layers, their shapes and parameters.

The Model tab shows this instead of text about the architecture, so a new architecture,
or a model trained elsewhere, is described correctly without anyone writing it down.
"""


def _activation(layer):
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None)
    return None if name in (None, "linear") else name


def _details(layer):
    config = layer.get_config()
    kind = type(layer).__name__
    if kind in ("Conv2D", "Conv2DTranspose"):
        k, s = config["kernel_size"], config["strides"]
        return f"{config['filters']} filters, {k[0]}×{k[1]}, stride {s[0]}, {config['padding']}"
    if kind == "Dense":
        return f"{config['units']} units"
    if kind == "Reshape":
        return "to " + "×".join(str(v) for v in config["target_shape"])
    return ""


def layer_rows(model):
    """One dict per layer of a functional model: layer, type, details, activation, output, parameters."""
    rows = []
    for layer in model.layers:
        output = layer.output
        shapes = [tuple(t.shape[1:]) for t in (output if isinstance(output, (list, tuple)) else [output])]
        rows.append({
            "layer": layer.name,
            "type": type(layer).__name__,
            "details": _details(layer),
            "activation": _activation(layer) or "",
            "output": ", ".join("×".join(str(v) for v in shape) for shape in shapes),
            "parameters": int(layer.count_params()),
        })
    return rows


def parameter_count(model):
    return int(sum(layer.count_params() for layer in model.layers))
