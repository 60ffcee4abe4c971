"""Named training recipes: a preset of TrainConfig options, what it is for, and how long it takes.

Plain data, no TensorFlow: the Train tab lists them and the job manager checks them before
TensorFlow is imported. A recipe's options are TrainConfig field names; options it leaves
out keep TrainConfig's defaults, and explicit options given with it win
(`python -m vae.train --recipe fast --epochs 20`).

Times are for MNIST's 54,000 training images on 2 CPU cores; bench/time_to_quality.py
measures `fast` against `reference` (docs/performance.md, "Time to a good model").
"""
import dataclasses

from vae.ml.config import TrainConfig

DEFAULT_RECIPE = "reference"


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    options: dict  # TrainConfig field -> value
    description: str  # one line, for a list of choices
    expected_time: str  # one line: how long it trains here, and what it reaches

    @property
    def headline(self):
        """The description before its colon: what a list of choices shows."""
        return self.description.partition(": ")[0]

    @property
    def details(self):
        """The description after its headline: what the recipe sets."""
        return self.description.partition(": ")[2]

    def config(self, **overrides):
        """A TrainConfig with this recipe's options, then `overrides` (None values are ignored)."""
        return make_config(self.name, **overrides)


# What won in bench/time_to_quality.py's trials (docs/performance.md, "Time to a good model"): Dense layers
# only, the true ELBO, batch 256 at twice the reference's rate after half an epoch of warm-up,
# then a cosine decay. Patience = epochs: the cosine's last epochs are where quality comes from.
FAST_OPTIONS = {"arch": "mlp", "kl_reduction": "sum", "learning_rate": 2e-3, "lr_schedule": "cosine",
                "warmup_epochs": 0.5, "batch_size": 256, "epochs": 20, "patience": 20}

RECIPES = {recipe.name: recipe for recipe in (
    Recipe("reference",
           {"arch": "reference", "kl_reduction": "mean", "learning_rate": 1e-3, "lr_schedule": "constant",
            "batch_size": 128, "epochs": 30, "patience": 3},
           "The blog post's recipe: its architecture and loss (KL averaged), Adam 1e-3, batch 128, 30 epochs.",
           "3.5-4 minutes on a quiet machine; test -ELBO about 155 nats on MNIST"),
    Recipe("fast", FAST_OPTIONS,
           "A good model in about a minute: Dense layers only, true ELBO, batch 256, warm-up then cosine, "
           "20 epochs.",
           "about a minute; passes the reference's 155 nats within 35 s, ends near 142 nats on MNIST"),
    Recipe("best", {**FAST_OPTIONS, "epochs": 60, "patience": 60},
           "The best 2-D models here: the fast recipe for 60 epochs (models/mlp, models/fashion-mlp).",
           "about 4 minutes; 136 nats and 82% 5-NN on MNIST (for Fashion-MNIST use 100 epochs)"),
    Recipe("large",
           {"arch": "large", "kl_reduction": "sum", "learning_rate": 1e-3, "lr_schedule": "cosine",
            "batch_size": 128, "epochs": 30, "patience": 5},
           "models/large's recipe: the large architecture on the true ELBO, cosine learning rate, 30 epochs.",
           "about 15 minutes; test -ELBO about 142 nats on MNIST"),
)}


def get_recipe(name):
    try:
        return RECIPES[name]
    except KeyError:
        raise ValueError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}") from None


def make_config(name=DEFAULT_RECIPE, **overrides):
    """TrainConfig defaults, then the recipe's options, then the overrides that are not None."""
    recipe = get_recipe(name)
    known = {field.name for field in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown training options: {', '.join(unknown)}")
    options = {**recipe.options, **{k: v for k, v in overrides.items() if v is not None}}
    return TrainConfig(**{"recipe": recipe.name, **options})
