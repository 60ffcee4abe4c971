"""A job in words, for the Train tab: what it trains, where it stands, how long it takes."""
from vae.data.datasets import get_dataset
from vae.ui.model_panel import epochs_text


def duration(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def ordinal(n):
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def what(config):
    """dataset · architecture · epochs · data: what a job (its TrainConfig) trains, in a few words."""
    spec = get_dataset(config.dataset)
    data = f"first {config.limit:,} images" if config.limit else (
        "train + test" if config.train_on == "all" else f"{spec.n_train:,} images")
    return f"{spec.title} · {config.arch} · {epochs_text(config.epochs)} · {data}"


def where(s):
    """Where a job stands, in a few words."""
    if s.state == "queued":
        eta = f", starts in about {duration(s.start_eta)}" if s.start_eta is not None else ""
        return f"waiting: {ordinal(s.position)} in the queue{eta}" if s.position else "waiting"
    if s.state == "running":
        if s.phase == "training":
            return f"training: epoch {s.epoch}/{s.epochs}, {s.fraction:.0%}"
        return "evaluating" if s.phase == "evaluating" else "starting"
    if s.state in ("finished", "stopped"):
        elbo = (s.metrics or {}).get("neg_elbo")
        return f"{s.state}: −ELBO {elbo:.1f}" if elbo is not None else s.state
    if s.state == "failed":
        return f"failed: {s.error}"
    return s.state  # discarded, cancelled


def progress_text(s):
    if s.phase == "starting":
        return "Starting the trainer (importing TensorFlow, loading the data)…"
    if s.phase == "evaluating":
        return "Training done; evaluating on the held-out test set…"
    eta = f" · about {duration(s.eta)} left" if s.eta is not None else ""
    speed = f" · {s.samples_per_second:,.0f} images/s" if s.samples_per_second else ""
    return f"Epoch {s.epoch}/{s.epochs} · batch {s.batch}/{s.batches}{eta}{speed}"
