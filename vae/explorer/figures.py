"""Plotly figures of the latent space and of training, free of Streamlit.

One colour per class, from the dataset spec and shared by every figure, so a
class is the same colour on the pad, the map and the training preview. Functions
that draw classes take an optional `spec` (a DatasetSpec or name; None: the default dataset).
"""
import base64
import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from vae.data.datasets import get_dataset

MARKER_COLOR = "#111111"


def _square_axes(fig, extent, height, fixed=True):
    (x0, x1), (y0, y1) = extent
    fig.update_xaxes(range=[x0, x1], title_text="z[0]", zeroline=True, fixedrange=fixed,
                     constrain="domain")
    fig.update_yaxes(range=[y0, y1], title_text="z[1]", zeroline=True, fixedrange=fixed,
                     scaleanchor="x", scaleratio=1, constrain="domain")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10),
                      plot_bgcolor="#fafafa", clickmode="event+select")
    return fig


def class_traces(z, labels, opacity=0.7, size=4, hover=True, customdata=None, showlegend=True,
                 spec=None):
    """One Scattergl trace per class, so the legend lists every class and toggles each."""
    spec = get_dataset(spec)
    traces = []
    for label, (name, color) in enumerate(zip(spec.class_names, spec.class_colors)):
        rows = np.flatnonzero(labels == label)
        traces.append(go.Scattergl(
            x=z[rows, 0], y=z[rows, 1], mode="markers", name=name,
            legendgroup=name, showlegend=showlegend,
            marker=dict(color=color, size=size, opacity=opacity),
            # a clicked dot stands out; the rest fade but stay readable as a map
            selected=dict(marker=dict(size=14, opacity=1.0)), unselected=dict(marker=dict(opacity=0.35)),
            customdata=rows if customdata is None else customdata[rows],
            hovertemplate=(f"{spec.item_noun} {name} · test #%{{customdata}}<br>z = (%{{x:.2f}}, %{{y:.2f}})"
                           "<extra></extra>") if hover else None,
            hoverinfo=None if hover else "skip",
        ))
    return traces


def map_figure(z_test, labels, extent, height=560, highlight=None, ellipse=None, spec=None):
    """All test images at their z_mean, plus two overlay traces, hidden when empty:
    a drawn image's marker and its 2σ ellipse.
    """
    spec = get_dataset(spec)
    fig = go.Figure(class_traces(z_test, labels, spec=spec))
    # Overlays are WebGL too: plotly draws SVG traces beneath every WebGL layer.
    fig.add_trace(go.Scattergl(x=[], y=[], mode="lines", name="2σ of q(z|x)",
                             line=dict(color=MARKER_COLOR, width=2, dash="dot"), hoverinfo="skip"))
    fig.add_trace(go.Scattergl(
        x=[], y=[], mode="markers", name=f"your {spec.item_noun}",
        marker=dict(symbol="star", size=20, color="#ffd400", line=dict(width=2, color=MARKER_COLOR)),
        hovertemplate=f"your {spec.item_noun}<br>z = (%{{x:.2f}}, %{{y:.2f}})<extra></extra>"))
    fig.update_layout(legend=dict(title_text=spec.item_noun, itemsizing="constant"), dragmode="zoom")
    set_overlays(fig, highlight, ellipse)
    return _square_axes(fig, extent, height, fixed=False)


def set_overlays(fig, highlight=None, ellipse=None):
    """Move the overlays of a `map_figure` in place: cheap, unlike rebuilding 10k points."""
    ellipse_trace, highlight_trace = fig.data[-2:]  # added last, after one trace per class
    for trace, xy in ((ellipse_trace, ellipse),
                      (highlight_trace, None if highlight is None else ([highlight[0]], [highlight[1]]))):
        trace.visible = xy is not None
        trace.x, trace.y = ([], []) if xy is None else ([float(v) for v in xy[0]], [float(v) for v in xy[1]])
    return fig


LOSS_NAMES = {"loss": "total (trained)", "reconstruction_loss": "reconstruction",
              "neg_elbo": "-ELBO (true)", "kl_loss": "KL (trained)"}
LOSS_COLORS = {"loss": "#4f46e5", "reconstruction_loss": "#059669", "neg_elbo": "#111827", "kl_loss": "#dc2626"}


def _loss_axes(fig, height, title=None):
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10), title=title,
        xaxis=dict(title="epoch", rangemode="tozero"), yaxis=dict(title="nats / image"),
        yaxis2=dict(title="KL (right axis)", overlaying="y", side="right", showgrid=False,
                    tickformat=".2f", rangemode="tozero"),
        legend=dict(orientation="h", y=-0.3))
    return fig


def history_figure(history, height=300, title=None):
    """Per-epoch curves from a model's metadata: solid for training, dotted for validation."""
    fig = go.Figure()
    for key, label in LOSS_NAMES.items():
        for prefix, dash in (("", "solid"), ("val_", "dot")):
            values = history.get(prefix + key)
            if values:
                fig.add_trace(go.Scatter(
                    x=list(range(1, len(values) + 1)), y=values, mode="lines+markers",
                    name=f"{label}{' · val' if prefix else ''}", yaxis="y2" if key == "kl_loss" else "y",
                    line=dict(dash=dash, color=LOSS_COLORS[key]), marker=dict(size=4)))
    return _loss_axes(fig, height, title)


def tick_indices(n, max_ticks=16):
    """Which of n cells get a tick label: every k-th from the first, at most max_ticks."""
    step = max(1, int(np.ceil((n - 1) / max(1, max_ticks - 1))))
    return np.arange(0, n, step)


def grid_ticks(values, cell, max_ticks):
    """(positions, labels) of ticks at cell centres in image pixels, z rounded to 0.1 as the reference.

    Pixel k spans [k - 0.5, k + 0.5] in an image plot, so cell i's centre is at
    i*cell + cell/2 - 0.5 (the reference's digit_size // 2 is half a pixel off).
    """
    ticks = tick_indices(len(values), max_ticks)
    # + 0.0 turns the -0.0 that rounding small negatives yields into 0.0
    labels = [f"{v + 0.0:.1f}" for v in np.round(np.asarray(values)[ticks], 1)]
    return (ticks + 0.5) * cell - 0.5, labels


def manifold_figure(tiled, grid_x, grid_y, height=640, max_ticks=11):
    """The reference's manifold as an interactive image, ticks at cell centres in z units."""
    png = io.BytesIO()
    Image.fromarray((np.clip(tiled, 0, 1) * 255).round().astype(np.uint8)).save(png, format="PNG")
    source = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()
    fig = go.Figure(go.Image(source=source, hoverinfo="skip"))
    for axis, values in (("xaxis", grid_x), ("yaxis", grid_y)):
        positions, labels = grid_ticks(values, tiled.shape[0] / len(values), max_ticks)
        fig.update_layout({axis: dict(tickmode="array", tickvals=positions, ticktext=labels,
                                      showgrid=False, zeroline=False)})
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis_title="z[0]", yaxis_title="z[1]")
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def manifold_figure_png(tiled, grid_x, grid_y, figsize=8.0, dpi=100, max_ticks=16, vmin=0.0, vmax=1.0):
    """PNG bytes of the reference figure (matplotlib): the grid in Greys_r, cells labelled by z.

    vmin/vmax pin the grey scale to the decoder's [0, 1] output so two grids
    compare; pass None for the reference's autoscaling.
    """
    from matplotlib.figure import Figure  # no pyplot: no global figure state in a server

    tiled = np.asarray(tiled)
    fig = Figure(figsize=(figsize, figsize), dpi=dpi)
    ax = fig.add_subplot()
    ax.imshow(tiled, cmap="Greys_r", vmin=vmin, vmax=vmax)
    ax.set_xticks(*grid_ticks(grid_x, tiled.shape[1] / len(grid_x), max_ticks))
    ax.set_yticks(*grid_ticks(grid_y, tiled.shape[0] / len(grid_y), max_ticks))
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def live_training_figure(recent, history, batches_per_epoch, height=320):
    """Running training losses by batch (x in epochs) and validation losses per epoch."""
    fig = go.Figure()
    per_epoch = max(batches_per_epoch, 1)
    for key, name in LOSS_NAMES.items():
        axis = "y2" if key == "kl_loss" else "y"
        if recent:
            fig.add_trace(go.Scatter(x=[r["step"] / per_epoch for r in recent], y=[r[key] for r in recent],
                                     mode="lines", name=name, line=dict(color=LOSS_COLORS[key]), yaxis=axis))
        val = [(h["epoch"], h["val_" + key]) for h in history if h.get("val_" + key) is not None]
        if val:
            fig.add_trace(go.Scatter(x=[e for e, _ in val], y=[v for _, v in val], mode="markers",
                                     name=f"{name} · val", yaxis=axis,
                                     marker=dict(color=LOSS_COLORS[key], symbol="diamond", size=9)))
    return _loss_axes(fig, height)


def preview_scatter(z, labels, epoch, height=320, spec=None):
    spec = get_dataset(spec)
    fig = go.Figure(class_traces(z, labels, opacity=0.7, size=4, hover=False, spec=spec))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10),
                      title=dict(text=f"z_mean of {len(z):,} test {spec.item_noun}s, epoch {epoch}",
                                 font=dict(size=13)),
                      legend=dict(itemsizing="constant"), xaxis_title="z[0]", yaxis_title="z[1]")
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig
