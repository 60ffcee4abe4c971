"""The teacher's view of a class: who trained what in this session of jobs (the runner's job
records), and how it scored. One row per job, newest first, with the version it made when it
made one; the latent maps of those versions come from the gallery's cards."""
import dataclasses

from vae.jobs.people import display_name

STATE_WORDS = {"queued": "queued", "running": "running", "finished": "finished", "stopped": "stopped and kept",
               "failed": "failed", "cancelled": "cancelled", "discarded": "stopped and discarded"}


@dataclasses.dataclass(frozen=True)
class ClassRow:
    who: str  # the owner's anonymous name
    version: str
    what: str  # dataset, recipe, architecture, β, epochs asked for
    state: str
    neg_elbo: float | None
    knn5: float | None
    has_version: bool  # a version of this name is in the store now


def class_rows(statuses, version_names):
    """Every job of the session, newest first; `version_names`: the versions the store lists."""
    rows = []
    for s in sorted(statuses, key=lambda s: s.submitted, reverse=True):
        c = s.config
        m = s.metrics or {}
        rows.append(ClassRow(
            who=display_name(s.owner), version=s.name,
            what=f"{c.dataset} · {c.recipe or 'custom'} · {c.arch} · β {c.beta:g} · {c.epochs} epochs",
            state=STATE_WORDS.get(s.state, s.state), neg_elbo=m.get("neg_elbo"), knn5=m.get("knn5_accuracy"),
            has_version=s.name in version_names))
    return rows


def table_rows(rows):
    """The rows as the table shows them: numbers rounded, a dash where there is none."""
    return [{"who": r.who, "version": r.version, "what": r.what, "state": r.state,
             "test −ELBO": "—" if r.neg_elbo is None else f"{r.neg_elbo:.1f}",
             "5-NN": "—" if r.knn5 is None else f"{r.knn5:.1%}"} for r in rows]
