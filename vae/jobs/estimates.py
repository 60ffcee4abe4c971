"""How long a job will take, and when a queued one will start.

Speeds come from what the runner has measured on its own recent jobs; failing that, from a
model version's metadata, and then the estimate says where that figure was measured.
"""
import dataclasses
import heapq
import statistics

from vae.ml.config import as_config, recorded_arch
from vae.data.datasets import get_dataset
from vae.jobs.events import EVAL_SECONDS

STARTUP_SECONDS = 8.0  # spawn, import TensorFlow, load the data, build the model: when nothing was measured
ROUGH_SPEED = 2000.0  # images/s, when nothing at all was measured


@dataclasses.dataclass
class Speed:
    images_per_second: float
    startup_seconds: float
    source: str  # where the figure comes from, as the Train tab says it


def training_images(config):
    """Images trained on per epoch (the validation slice held out)."""
    config = as_config(config)
    spec = get_dataset(config.dataset)
    total = spec.n_train + spec.n_test if config.train_on == "all" else spec.n_train
    n = min(config.limit or total, total)
    return n - max(1, int(round(n * config.val_fraction)))


def estimate_seconds(config, speed):
    """Upper bound of a job's duration (early stopping may end it sooner)."""
    config = as_config(config)
    return (training_images(config) * config.epochs / speed.images_per_second
            + speed.startup_seconds + EVAL_SECONDS)


def remaining_seconds(status, speed):
    """What is left of a running job: its own measured ETA, else the estimate less its age."""
    if status.eta is not None:
        return status.eta
    return max(0.0, estimate_seconds(status.config, speed) - status.elapsed)


def start_times(running_left, queued_durations, slots):
    """Seconds from now until each queued job (in queue order) starts, with `slots` jobs at a
    time: each queued job takes the slot that frees first."""
    free = sorted(list(running_left)[:slots] + [0.0] * max(0, slots - len(running_left)))
    heapq.heapify(free)
    starts = []
    for duration in queued_durations:
        at = heapq.heappop(free)
        starts.append(at)
        heapq.heappush(free, at + duration)
    return starts


def measured_speed(statuses, arch, fallback):
    """A Speed from this runner's finished jobs of the same architecture, else `fallback()`."""
    done = [s for s in statuses if s.state in ("finished", "stopped") and s.samples_per_second
            and s.config.arch == arch]
    if not done:
        return fallback()
    recent = sorted(done, key=lambda s: s.ended or 0)[-5:]
    startups = [s.startup_seconds for s in recent if s.startup_seconds]
    return Speed(statistics.median(s.samples_per_second for s in recent),
                 statistics.median(startups) if startups else STARTUP_SECONDS,
                 f"measured on this server's last {len(recent)} {arch} job{'s' if len(recent) > 1 else ''}")


def speed_from_versions(versions, arch):
    """A Speed from the longest run of `arch` among model versions (name, metadata): a tiny run is
    mostly start-up. Its source names the version: it may have been trained on another machine."""
    best = None
    for name, meta in versions:
        if recorded_arch(meta) != arch:
            continue
        work = meta.get("train_images", 0) * meta.get("epochs_run", 0)
        if meta.get("samples_per_second") and (best is None or work > best[0]):
            best = (work, float(meta["samples_per_second"]), name)
    if best is None:
        return Speed(ROUGH_SPEED, STARTUP_SECONDS, "a rough guess: nothing of this kind was measured yet")
    return Speed(best[1], STARTUP_SECONDS,
                 f"as measured when “{best[2]}” was trained, perhaps on another machine")
