"""The figures in words and numbers, for whoever would rather read than look (or cannot look):
the test-set map as per-class centres and spreads, and the training curves as their first,
best and last epochs."""
from dataclasses import dataclass

import numpy as np

from vae.explorer.figures import LOSS_NAMES


@dataclass(frozen=True)
class ClassSpread:
    name: str
    count: int
    centre: tuple  # mean z_mean of the class, per axis
    spread: tuple  # standard deviation of z_mean, per axis


def class_spreads(z, labels, class_names):
    """Per class: how many test images, where their codes centre and how far they spread."""
    z, labels = np.asarray(z, dtype="float64")[:, :2], np.asarray(labels)
    rows = []
    for c, name in enumerate(class_names):
        codes = z[labels == c]
        if len(codes):
            rows.append(ClassSpread(name, len(codes), tuple(codes.mean(0)), tuple(codes.std(0))))
    return rows


def map_sentence(spreads, noun):
    """Two sentences on the map: the tightest and widest class, and the two nearest centres
    (the classes the model most readily confuses)."""
    if len(spreads) < 2:
        return ""
    size = {s.name: float(np.hypot(*s.spread)) for s in spreads}
    tight, wide = min(size, key=size.get), max(size, key=size.get)
    centres = np.array([s.centre for s in spreads])
    gaps = np.hypot(*(centres[:, None, :] - centres[None, :, :]).transpose(2, 0, 1))
    gaps[np.diag_indices(len(spreads))] = np.inf
    i, j = np.unravel_index(np.argmin(gaps), gaps.shape)
    return (f"The tightest class is {tight} (spread {size[tight]:.2f}) and the widest {wide} "
            f"({size[wide]:.2f}). The nearest class centres are {spreads[i].name} and {spreads[j].name}, "
            f"{gaps[i, j]:.2f} apart: their {noun}s overlap most on the map.")


def spread_rows(spreads):
    """The table beside the map, one row per class."""
    return [{"class": s.name, "test images": s.count, "centre z[0]": round(s.centre[0], 2),
             "centre z[1]": round(s.centre[1], 2), "spread z[0]": round(s.spread[0], 2),
             "spread z[1]": round(s.spread[1], 2)} for s in spreads]


def history_rows(history):
    """The curves as a table: one row per curve, with its value at the first, the best (lowest
    validation −ELBO) and the last epoch. Columns are epochs, so it stays narrow on a phone."""
    epochs = len(history.get("loss") or [])
    if not epochs:
        return []
    val = history.get("val_neg_elbo") or []
    picks = {0: "first", epochs - 1: "last"}
    if len(val) == epochs:
        best = int(np.argmin(val))
        picks[best] = picks[best] + " and best" if best in picks else "best"
    columns = {e: f"epoch {e + 1} ({picks[e]})" for e in sorted(picks)}
    rows = []
    for key, label in LOSS_NAMES.items():
        for prefix, suffix in (("", ""), ("val_", " · validation")):
            values = history.get(prefix + key)
            if values and len(values) == epochs:
                rows.append({"curve": label + suffix,
                             **{name: round(float(values[e]), 2) for e, name in columns.items()}})
    return rows
