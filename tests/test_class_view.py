"""The teacher's view: every job of the session, newest first, with who, what, state and score."""
from vae.explorer.class_view import class_rows, table_rows
from vae.jobs.events import JobStatus
from vae.jobs.people import display_name
from vae.ml.config import TrainConfig


def status(name, owner, submitted, state, metrics=None, **config):
    return JobStatus(id=name, name=name, owner=owner, config=TrainConfig(**config), model_dir=f"/m/{name}",
                     submitted=submitted, state=state, metrics=metrics)


def test_class_rows_are_every_job_newest_first_with_its_score():
    statuses = [status("vae-a", "owner-1", 10.0, "finished", {"neg_elbo": 150.26, "knn5_accuracy": 0.71},
                       recipe="fast", arch="mlp", beta=4.0, epochs=20),
                status("vae-b", "owner-2", 20.0, "running", dataset="fashion-mnist"),
                status("vae-c", "owner-1", 5.0, "failed")]
    rows = class_rows(statuses, version_names={"vae-a", "reference"})
    assert [r.version for r in rows] == ["vae-b", "vae-a", "vae-c"]
    b, a, c = rows
    assert a.who == display_name("owner-1") == c.who != b.who
    assert a.has_version and not b.has_version and not c.has_version
    assert a.what == "mnist · fast · mlp · β 4 · 20 epochs"
    assert b.what.startswith("fashion-mnist · custom · reference")
    assert (a.state, b.state, c.state) == ("finished", "running", "failed")
    table = table_rows(rows)
    assert table[1]["test −ELBO"] == "150.3" and table[0]["test −ELBO"] == "—"
    assert table[1]["5-NN"] == "71.0%" and table[0]["5-NN"] == "—"
    assert class_rows([], set()) == []
