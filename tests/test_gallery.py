"""The gallery's data (vae.explorer.gallery): a card per listed version, sorted and filtered; and
the operator's featured list on the folder store."""
import dataclasses
import shutil

import pytest

from vae.explorer.gallery import (card_of, datasets_in, filter_cards, gallery_cards, owners_from_jobs,
                                  sort_cards)
from vae.jobs.events import JobStatus
from vae.jobs.people import display_name
from vae.store import disk
from vae.store.versions import Entry, Versions

from conftest import REPO_ROOT

SHIPPED = Versions(REPO_ROOT / "models")


def entry(name, neg_elbo=100.0, knn5=0.5, created="2026-01-01T00:00:00+00:00", dataset="mnist", **meta):
    metadata = {"created": created, "dataset": dataset, "arch": "reference", "epochs_run": 3, "train_seconds": 12.5,
                "options": {"beta": 1.0, "recipe": "fast"},
                "metrics": {"neg_elbo": neg_elbo, "knn5_accuracy": knn5}, **meta}
    return Entry(name=name, damage=None, metadata=metadata, revision="r-" + name)


def test_a_shipped_versions_card_says_what_the_model_tab_says():
    card = card_of(SHIPPED.entry("fashion-mlp"))
    meta = SHIPPED.entry("fashion-mlp").metadata
    assert card.shipped and card.owner_name == "shipped" and card.damage is None
    assert card.dataset == "fashion-mnist" and card.dataset_title == "Fashion-MNIST" and card.arch == "mlp"
    assert card.neg_elbo == meta["metrics"]["neg_elbo"] and card.knn5 == meta["metrics"]["knn5_accuracy"]
    assert card.epochs == meta["epochs_run"] and card.train_seconds == meta["train_seconds"]
    assert card.beta == meta["options"]["beta"]


def test_every_listed_version_gets_a_card_in_the_listings_order():
    cards = gallery_cards(SHIPPED.entries())
    assert [c.name for c in cards] == SHIPPED.list() and len(cards) == len(disk.SHIPPED_MODELS)


def test_sorting_by_elbo_knn_and_age():
    cards = [card_of(e) for e in (entry("a", 120, 0.9, "2026-01-03T00:00:00+00:00"),
                                  entry("b", 100, 0.7, "2026-01-01T00:00:00+00:00"),
                                  entry("c", 110, 0.8, "2026-01-02T00:00:00+00:00"),
                                  entry("odd", metrics={}, created=""))]
    assert [c.name for c in sort_cards(cards, "neg_elbo")] == ["b", "c", "a", "odd"]  # no number: last
    assert [c.name for c in sort_cards(cards, "knn5")] == ["a", "c", "b", "odd"]
    assert [c.name for c in sort_cards(cards, "newest")] == ["a", "c", "b", "odd"]
    with pytest.raises(ValueError, match="no sort"):
        sort_cards(cards, "name; drop table")


def test_featured_first_and_damaged_last_whatever_the_sort():
    entries = [entry("good", 90), entry("plain", 100), entry("starred", 130),
               dataclasses.replace(entry("broken", 80), damage="no model.keras")]
    cards = gallery_cards(entries, featured={"starred"})
    assert [c.name for c in sort_cards(cards, "neg_elbo")] == ["starred", "good", "plain", "broken"]
    broken = next(c for c in cards if c.name == "broken")
    assert broken.damage == "no model.keras"


def test_a_version_with_foreign_metadata_still_gets_a_card():
    odd = Entry(name="odd", damage=None, metadata={"metrics": "nan", "options": [1], "epochs_run": "x",
                                                   "dataset": "imagenet", "created": 5}, revision="")
    card = card_of(odd)
    assert (card.neg_elbo, card.knn5, card.epochs, card.dataset, card.created) == (None, None, None, None, "")
    assert card_of(Entry(name="bare", damage=None, metadata=None, revision="")).damage == "no readable metadata"


def test_filtering_by_dataset_and_by_owner():
    owners = {"mine-1": "me", "mine-2": "me", "theirs": "them"}
    cards = gallery_cards([entry("mine-1"), entry("mine-2", dataset="fashion-mnist"), entry("theirs"),
                           entry("cli")], owners=owners)
    assert [c.name for c in filter_cards(cards, dataset="fashion-mnist")] == ["mine-2"]
    assert [c.name for c in filter_cards(cards, owner="me")] == ["mine-1", "mine-2"]
    assert [c.name for c in filter_cards(cards, dataset="mnist", owner="me")] == ["mine-1"]
    assert filter_cards(cards) == cards
    assert datasets_in(cards) == {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
    assert next(c for c in cards if c.name == "theirs").owner_name == display_name("them")
    assert next(c for c in cards if c.name == "cli").owner_name == "unknown"


def test_owners_come_from_the_jobs_that_kept_a_version():
    def job(name, owner, state):
        return JobStatus(id=f"{name}-{owner}", name=name, owner=owner, config=None, model_dir="", submitted=0.0,
                         state=state)
    owners = owners_from_jobs([job("v1", "ann", "finished"), job("v2", "bob", "stopped"), job("v3", "cy", "failed"),
                               job("v4", "dee", "running")])
    assert owners == {"v1": "ann", "v2": "bob"}


def test_the_operator_features_and_unfeatures_a_version_on_the_folder_store(tmp_path):
    shutil.copytree(REPO_ROOT / "models" / "fast", tmp_path / "fast")
    store = Versions(tmp_path)
    assert store.featured() == set()
    store.set_featured("fast")
    assert store.featured() == {"fast"} and Versions(tmp_path).featured() == {"fast"}  # kept on disk
    assert store.list() == ["fast"], "the featured file is not a version"
    store.set_featured("fast", False)
    assert store.featured() == set()
    with pytest.raises(FileNotFoundError):
        store.set_featured("../etc")
    (tmp_path / ".featured.json").write_text("{not json")
    assert store.featured() == set()
