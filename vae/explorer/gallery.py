"""The gallery's cards: every version the page may open, described from its listing entry alone
(nothing downloaded, no model loaded), sorted and filtered as the person asks.

A card says what a version is (dataset, architecture, recipe, β), what it cost (epochs, training
time), how good it is (held-out −ELBO, 5-NN accuracy) and whose it is: "shipped", the anonymous
name of the person whose job made it (vae.jobs.people), or None when no job says (one trained
from the command line, or whose job record is gone). A damaged version is a card too, saying why.
"""
import dataclasses
import math

from vae.data.datasets import DATASETS
from vae.jobs.people import display_name
from vae.ml.config import recorded_option
from vae.store.disk import SHIPPED_MODELS

PAGE_SIZE = 12  # cards on the first screen; "show more" adds as many again
SORTS = {  # key → what the person reads
    "neg_elbo": "Lowest held-out −ELBO",
    "knn5": "Highest 5-NN accuracy",
    "newest": "Newest first",
}


@dataclasses.dataclass(frozen=True)
class Card:
    name: str
    revision: str  # changes with its content: the thumbnails' cache key
    shipped: bool
    featured: bool
    damage: str | None  # why it cannot be opened; None when it looks sound
    dataset: str | None  # vae.data.datasets' key
    dataset_title: str | None
    arch: str | None
    recipe: str | None
    beta: float | None
    epochs: int | None
    train_seconds: float | None
    neg_elbo: float | None
    knn5: float | None
    created: str  # ISO time, "" when unknown
    owner: str | None  # an owner id (vae.jobs.people), or None when no job says

    @property
    def owner_name(self):
        """"shipped", the owner's anonymous name, or "unknown"."""
        if self.shipped:
            return "shipped"
        return display_name(self.owner) if self.owner else "unknown"


def _number(value, kind=float):
    """A finite number from metadata, or None: a version with odd metadata still gets a card."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return kind(value)


def card_of(entry, featured=frozenset(), owners=None):
    """The Card of one listing Entry (vae.store.versions.Entry)."""
    meta = entry.metadata if isinstance(entry.metadata, dict) else {}
    metrics = meta.get("metrics") if isinstance(meta.get("metrics"), dict) else {}
    options = meta.get("options") if isinstance(meta.get("options"), dict) else {}

    def option(key):
        try:
            return recorded_option(meta, key)
        except Exception:  # metadata of a foreign shape: the card says less
            return None

    dataset = option("dataset")
    spec = DATASETS.get(dataset) if isinstance(dataset, str) else None
    recipe = options.get("recipe")
    return Card(
        name=entry.name, revision=entry.revision, shipped=entry.name in SHIPPED_MODELS,
        featured=entry.name in featured, damage=entry.damage or (None if meta else "no readable metadata"),
        dataset=spec.name if spec else None, dataset_title=spec.title if spec else None,
        arch=option("arch") if isinstance(option("arch"), str) else None,
        recipe=recipe if isinstance(recipe, str) else None, beta=_number(option("beta")),
        epochs=_number(meta.get("epochs_run"), int), train_seconds=_number(meta.get("train_seconds")),
        neg_elbo=_number(metrics.get("neg_elbo")), knn5=_number(metrics.get("knn5_accuracy")),
        created=meta.get("created") if isinstance(meta.get("created"), str) else "",
        owner=(owners or {}).get(entry.name))


def gallery_cards(entries, featured=frozenset(), owners=None):
    """Cards of every listed entry, in the listing's order."""
    return [card_of(entry, frozenset(featured), owners) for entry in entries]


def _sort_key(by):
    if by == "neg_elbo":  # lower is better; a card without the number goes last
        return lambda c: (c.neg_elbo is None, c.neg_elbo if c.neg_elbo is not None else 0.0, c.name)
    if by == "knn5":
        return lambda c: (c.knn5 is None, -(c.knn5 or 0.0), c.name)
    if by == "newest":
        return lambda c: (not c.created, _negated(c.created), c.name)
    raise ValueError(f"no sort {by!r}: one of {', '.join(SORTS)}")


def _negated(text):
    """A key that sorts strings backwards (ISO times newest first)."""
    return tuple(-ord(ch) for ch in text)


def sort_cards(cards, by="neg_elbo"):
    """Featured cards first, then by `by` (a key of SORTS); damaged ones last."""
    key = _sort_key(by)
    return sorted(cards, key=lambda c: (c.damage is not None, not c.featured, key(c)))


def filter_cards(cards, dataset=None, owner=None):
    """The cards of `dataset` (a vae.data.datasets key; None: every one) and, with `owner` (an
    owner id), that person's only."""
    return [c for c in cards if (dataset is None or c.dataset == dataset) and (owner is None or c.owner == owner)]


def datasets_in(cards):
    """{dataset key: title} of the datasets the cards hold, in DATASETS' order."""
    present = {c.dataset for c in cards}
    return {key: spec.title for key, spec in DATASETS.items() if key in present}


def owners_from_jobs(statuses):
    """{version name: owner id} from the job runner's statuses: the job that made each version.
    A later job of the same name (a failed one never writes) does not take over a kept version."""
    owners = {}
    for status in statuses:
        if status.state in ("finished", "stopped"):
            owners.setdefault(status.name, status.owner)
    return owners
