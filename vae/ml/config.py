"""What a training run is asked to do, and why it ended: plain data, no TensorFlow.

Kept apart from vae.train so the job manager and the trainer process can read and
check a config before TensorFlow is imported.
"""
import dataclasses
import datetime as dt

from vae.data.datasets import DEFAULT_DATASET

KL_REDUCTIONS = ("mean", "sum")  # "mean" over latent dims is the reference; "sum" is the true ELBO
LR_SCHEDULES = ("constant", "cosine")  # constant is the reference's Adam default

STOP_COMPLETED = "completed"
STOP_EARLY = "early_stopping"
STOP_USER = "stopped_by_user"


@dataclasses.dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 128
    beta: float = 1.0
    kl_reduction: str = "mean"  # "mean" is the reference; "sum" is the true ELBO
    latent_dim: int = 2
    train_on: str = "train"  # "train": the train split, test unseen; "all": train + test, as the reference
    limit: int | None = None  # first N images, for quick runs
    seed: int = 0
    val_fraction: float = 0.1
    patience: int = 3
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"  # "cosine": decay to 5% of learning_rate over `epochs`
    warmup_epochs: float = 0.0  # learning rate rises linearly from 0 over these epochs first
    kl_warmup_epochs: float = 0.0  # the KL weight rises linearly from 0 to beta over these epochs
    dataset: str = DEFAULT_DATASET  # a name in vae.data.datasets.DATASETS
    arch: str = "reference"  # a name in vae.ml.architectures.ARCHITECTURES
    recipe: str | None = None  # the vae.ml.recipes preset these options started from: a label only

    def validate(self):
        if self.epochs < 1:
            raise ValueError("epochs must be at least 1")
        if self.batch_size < 1:
            raise ValueError("batch size must be at least 1")
        if self.kl_reduction not in KL_REDUCTIONS:
            raise ValueError(f"kl_reduction must be one of {KL_REDUCTIONS}")
        if self.train_on not in ("train", "all"):
            raise ValueError("train_on must be 'train' or 'all'")
        if self.limit is not None and self.limit < 20:
            raise ValueError("limit must be at least 20 images (some are held out for validation)")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError("warmup_epochs must be at least 0 and fewer than epochs")
        if self.kl_warmup_epochs < 0:
            raise ValueError("kl_warmup_epochs must be at least 0")
        if self.beta < 0:
            raise ValueError("beta must be non-negative")
        if self.latent_dim < 1:
            raise ValueError("latent_dim must be at least 1")
        from vae.data.datasets import get_dataset  # both registries are plain Python, no TensorFlow
        get_dataset(self.dataset)
        from vae.ml.architectures import ARCHITECTURES
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.arch!r}; known: {', '.join(ARCHITECTURES)}")

    @classmethod
    def from_dict(cls, options):
        """A config from its options as JSON holds them (a job's record, a test's few options).
        An option left out takes its default here, the one place defaults live: a record
        written before the option existed ran with it. An unknown option is refused, not
        dropped: a typo must not train something else than asked."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"unknown training options: {', '.join(unknown)}")
        return cls(**options)

    def to_dict(self):
        return dataclasses.asdict(self)


def as_config(config):
    """A TrainConfig of its own, from a TrainConfig (copied: the caller's stays theirs) or a dict."""
    if isinstance(config, TrainConfig):
        return dataclasses.replace(config)
    return TrainConfig.from_dict(config)


def run_name(now=None):
    """The default name of a new model version: vae-YYYYmmdd-HHMMSS."""
    return (now or dt.datetime.now()).strftime("vae-%Y%m%d-%H%M%S")


def recorded_option(metadata, key):
    """An option a model's metadata.json records (top level, then `options`), or TrainConfig's
    default: models trained before datasets and architectures existed used the defaults."""
    options = metadata.get("options") or {}
    return metadata.get(key, options.get(key, getattr(TrainConfig(), key)))


def recorded_dataset(metadata):
    return recorded_option(metadata, "dataset")


def recorded_arch(metadata):
    return recorded_option(metadata, "arch")
