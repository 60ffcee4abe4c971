"""Two versions side by side, without Streamlit: which two a `?compare=A,B` link asks for (and why
not, when it cannot be honoured), their maps aligned by Procrustes, their metrics with the
difference, and their training curves on one chart."""
import dataclasses
import re

import numpy as np
import plotly.graph_objects as go

from vae.ml import knn
from vae.ml.latent import latent_extent
from vae.ml.procrustes import fit_procrustes

MAX_PARAM_CHARS = 300  # two names and a comma; anything longer is not a link the page made
SHOWN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # a name safe to echo in a message
METRICS = (  # (metadata key, label, lower is better)
    ("neg_elbo", "Test −ELBO (nats)", True),
    ("reconstruction", "Reconstruction (nats)", True),
    ("kl", "KL (nats)", True),
    ("knn5_accuracy", "5-NN accuracy", False),
)


@dataclasses.dataclass(frozen=True)
class CompareRequest:
    a: str | None
    b: str | None
    problem: str | None  # why the link's pair was not taken, for the page; None when it was (or none given)


def _shown(name):
    return f"“{name}”" if SHOWN_NAME.fullmatch(name) else "a name"


def parse_compare(raw, listed, damage=None):
    """The pair a `?compare=` value names, from `listed` version names; `damage` maps a name to
    why it cannot be opened. Never raises: a value that cannot be honoured gives (None, None,
    why), and echoes a name only when it is a plain version name."""
    damage = damage or {}
    if raw is None:
        return CompareRequest(None, None, None)
    raw = str(raw)
    if len(raw) > MAX_PARAM_CHARS:
        return CompareRequest(None, None, f"The link's compare= is {len(raw):,} characters long: it names no "
                                          "two versions. Pick them below.")
    parts = [part.strip() for part in raw.split(",")]
    if len(parts) != 2 or not all(parts):
        return CompareRequest(None, None, "The link's compare= needs two version names separated by a comma, "
                                          "like compare=reference,fast. Pick them below.")
    a, b = parts
    for name in parts:
        if name not in listed:
            return CompareRequest(None, None, f"The link's compare= names {_shown(name)}, which is not a version "
                                              "here (deleted, or never made). Pick two below.")
        if damage.get(name):
            return CompareRequest(None, None, f"{_shown(name)} is damaged ({damage[name]}) and cannot be "
                                              "compared. Pick two below.")
    if a == b:
        return CompareRequest(None, None, f"The link's compare= names {_shown(a)} twice. Pick a second version below.")
    return CompareRequest(a, b, None)


def default_pair(active, listed, damage=None):
    """The active model and the first other sound version (None when there is none)."""
    damage = damage or {}
    others = [name for name in listed if name != active and not damage.get(name)]
    return active, (others[0] if others else None)


# -- the maps

@dataclasses.dataclass(frozen=True)
class MapAlignment:
    fit: object  # vae.ml.procrustes.Alignment, or None when the two were tested on different images
    why_not: str | None  # why there is no fit
    extent_raw: list  # [[x0, x1], [y0, y1]]: one square holding both raw maps
    extent_aligned: list  # one square holding A's map and B's aligned one


def _union(*codes):
    lo, hi = latent_extent(np.concatenate(codes), quantile=0.002, pad=0.08)
    return [[round(l, 3), round(h, 3)] for l, h in zip(lo, hi)]


def align_maps(codes_a, codes_b, same_test_set):
    """B's map fitted onto A's (when both encoded the same test images, row for row)."""
    extent_raw = _union(codes_a, codes_b)
    if not same_test_set or len(codes_a) != len(codes_b):
        return MapAlignment(None, "the two were tested on different datasets: their maps cannot be matched "
                                  "image for image", extent_raw, extent_raw)
    try:
        fit = fit_procrustes(codes_a, codes_b)
    except ValueError as err:
        return MapAlignment(None, str(err), extent_raw, extent_raw)
    return MapAlignment(fit, None, extent_raw, _union(codes_a, fit.apply(codes_b)))


# -- the numbers

def per_class_knn(codes, labels, n_classes, k=5):
    """Each class's share of test images whose k nearest other test codes vote for their label
    (leave-one-out on the test set: the training codes are not kept with a version)."""
    labels = np.asarray(labels)
    neighbours = knn.nearest(codes, codes, k + 1)[:, 1:]  # the first is the image itself
    right = knn.vote(labels[neighbours], n_classes) == labels
    return [float(right[labels == c].mean()) if np.any(labels == c) else None for c in range(n_classes)]


def metric_rows(meta_a, meta_b):
    """[{metric, A, B, B − A, better}] of the held-out metrics both record."""
    rows = []
    for key, label, lower_better in METRICS:
        a, b = (meta.get("metrics", {}).get(key) for meta in (meta_a, meta_b))
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            continue
        rows.append(_row(label, a, b, lower_better, percent=key == "knn5_accuracy"))
    return rows


def class_rows(class_names, knn_a, knn_b):
    return [_row(f"5-NN, class {name} (test, leave-one-out)", a, b, False, percent=True)
            for name, a, b in zip(class_names, knn_a, knn_b) if a is not None and b is not None]


def _row(label, a, b, lower_better, percent):
    fmt = (lambda v: f"{v:.1%}") if percent else (lambda v: f"{v:.2f}")
    diff = b - a
    delta = f"{diff * 100:+.1f} points" if percent else f"{diff:+.2f}"
    better = "same" if abs(diff) < 1e-12 else ("B" if (diff < 0) == lower_better else "A")
    return {"metric": label, "A": fmt(a), "B": fmt(b), "B − A": delta.replace("-", "−"), "better": better}


# -- the training curves

def curves_figure(name_a, history_a, name_b, history_b, key="neg_elbo", height=360):
    """Both versions' per-epoch `key` (solid: training, dotted: validation) on one chart."""
    fig = go.Figure()
    for name, history, color in ((name_a, history_a, "#1f77b4"), (name_b, history_b, "#d62728")):
        for prefix, dash, part in (("", "solid", "training"), ("val_", "dot", "validation")):
            values = (history or {}).get(prefix + key)
            if values:
                fig.add_trace(go.Scatter(x=list(range(1, len(values) + 1)), y=values, mode="lines+markers",
                                         name=f"{name} · {part}", line=dict(color=color, dash=dash),
                                         marker=dict(size=4)))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="epoch",
                      yaxis_title="−ELBO per image (nats)" if key == "neg_elbo" else key,
                      legend=dict(orientation="h", y=-0.25))
    return fig
