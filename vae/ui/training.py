"""Retrain in the browser: choose the recipe, watch it learn, stop it, keep the versions.

The trainer is a separate process (vae.jobs starts vae.trainer); this page only starts it, reads its
files and asks it to stop. Every session sees the same job, and a reload re-attaches.
"""
import streamlit as st

from vae.architectures import ARCHITECTURES
from vae.config import TrainConfig, recorded_dataset
from vae.datasets import DATASETS, get_dataset
from vae.drawing import upscale
from vae.figures import live_training_figure, preview_scatter
from vae.jobs import JobAlreadyRunning, JobManager, NotWritableError, estimate_seconds
from vae.store import list_model_dirs, read_metadata
from vae.ui.model_panel import epochs_text
from vae import settings
from vae.settings import HARD_MAX_EPOCHS
from vae.ui.operator_lock import LOCKED_MESSAGE, unlock_form, unlocked
from vae.ui.state import switch_model



@st.cache_resource
def job_manager():
    """One manager per server process; the job itself is shared through files anyway."""
    return JobManager()


def operator_settings():
    """(enabled, max_epochs) from vae.settings."""
    return settings.training_mode() != "off", settings.max_epochs()


def measured_throughput():
    """(images/s, where it was measured): the longest run recorded in models/.

    A tiny run is mostly start-up, so its images/s says little about a real one.
    """
    best = None
    for model_dir in list_model_dirs():
        try:
            meta = read_metadata(model_dir)
        except (OSError, ValueError):  # a damaged version must not take the tab down
            continue
        work = meta.get("train_images", 0) * meta.get("epochs_run", 0)
        if meta.get("samples_per_second") and (best is None or work > best[0]):
            best = (work, float(meta["samples_per_second"]), model_dir.name)
    return (best[1], best[2]) if best else (2000.0, "a rough default")


def _duration(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


ARCH_HELP = {"reference": "the reference post's model, exactly (about 97k parameters)",
             "large": "wider and deeper, for a sharper decoder (slower to train)"}


def _settings_form(max_epochs, running, explorer):
    c0, c1, _ = st.columns(3)
    dataset = c0.selectbox("Dataset", list(DATASETS), key="train_dataset",
                           index=list(DATASETS).index(explorer.dataset.name),
                           format_func=lambda name: DATASETS[name].title)
    arch = c1.selectbox("Architecture", list(ARCHITECTURES), key="train_arch",
                        format_func=lambda name: f"{name}: {ARCH_HELP.get(name, '')}")
    spec = DATASETS[dataset]
    c0, c1, c2 = st.columns(3)
    epochs = c0.slider("Epochs", 1, max_epochs, min(30, max_epochs), key="train_epochs",
                       help="The reference trains 30 epochs; early stopping (patience 3) may end sooner.")
    beta = c1.number_input("KL weight β", 0.0, 20.0, 1.0, 0.1, key="train_beta",
                           help="β > 1 trades reconstruction for a smoother, more Gaussian latent space.")
    seed = c2.number_input("Random seed", 0, 2**31 - 1, 0, key="train_seed")
    c0, c1, c2 = st.columns(3)
    kl = c0.radio("KL reduction", ["mean", "sum"], key="train_kl",
                  format_func=lambda v: {"mean": "mean over dims (reference)", "sum": "sum over dims (true ELBO)"}[v])
    total = spec.n_train + spec.n_test
    data = c1.radio("Training data", ["train", "all"], key="train_data",
                    format_func=lambda v: {"train": f"{spec.n_train:,} train split (test stays unseen)",
                                           "all": f"all {total:,}, as the reference"}[v])
    limit = c2.number_input("Quick run: first N images (0 = all)", 0, total, 0, 500, key="train_limit",
                            help="A few thousand images train in seconds: good for watching the map form.")
    config = TrainConfig(epochs=int(epochs), beta=float(beta), kl_reduction=kl, train_on=data,
                         limit=int(limit) or None, seed=int(seed), dataset=dataset, arch=arch)
    speed, source = measured_throughput()
    try:
        config.validate()
        st.caption(f"Estimated duration: **{_duration(estimate_seconds(config, speed))}** at "
                   f"{speed:,.0f} images/s, as measured training “{source}” on this machine. "
                   "Early stopping may end it sooner.")
    except ValueError as err:
        st.warning(str(err))
        config = None
    if st.button("Start training", type="primary", icon=":material/play_arrow:", key="train_start",
                 disabled=running or config is None or not unlocked()):
        if not unlocked():  # checked again: a disabled button can still be clicked by a crafted client
            st.error(LOCKED_MESSAGE, icon=":material/lock:")
            return
        try:
            info = job_manager().start(config)
        except JobAlreadyRunning:
            st.warning("Another training job is already running on this server; watch it below.")
        except NotWritableError as err:
            st.error(f"Training is not possible on this server: {err}, so a trained model could not "
                     "be saved. The operator can make it writable, or switch training off "
                     "(VAE_TRAINING=off).", icon=":material/block:")
        except (ValueError, OSError) as err:  # FileExistsError, or the spawn itself failing
            st.error(f"Could not start: {err}")
        else:
            st.session_state["my_job"] = info.id
            st.rerun()


def _progress_text(s):
    if s.phase == "starting":
        return "Starting the trainer (importing TensorFlow, loading the data)…"
    if s.phase == "evaluating":
        return "Training done; evaluating on the held-out test set…"
    eta = f" · about {_duration(s.eta)} left" if s.eta is not None else ""
    speed = f" · {s.samples_per_second:,.0f} images/s" if s.samples_per_second else ""
    return f"Epoch {s.epoch}/{s.epochs} · batch {s.batch}/{s.batches}{eta}{speed}"


def _live(manager):
    status = manager.status()
    if status is None:
        st.caption("No training job yet on this server.")
        return
    was_running = st.session_state.get("job_seen_running") == status.id
    if status.state == "running":
        st.session_state["job_seen_running"] = status.id
    elif was_running:
        # The job ended while we watched: rerun the whole page so the picker lists the
        # new version and this fragment stops polling.
        st.session_state.pop("job_seen_running", None)
        if status.state in ("finished", "stopped") and st.session_state.get("my_job") == status.id:
            switch_model(status.name)
            st.toast(f"Switched the explorer to the new model “{status.name}”.")
        st.rerun(scope="app")

    st.markdown(f"**Job “{status.name}”** · {get_dataset(recorded_dataset(status.config)).title} · "
                f"{status.config.get('arch', 'reference')} · {epochs_text(status.config['epochs'])} · "
                f"β = {status.config['beta']} · KL {status.config['kl_reduction']} · data {status.config['train_on']}"
                + (f" (first {status.config['limit']:,})" if status.config.get("limit") else ""))
    if status.state == "running":
        st.progress(min(max(status.fraction, 0.0), 1.0), text=_progress_text(status))
        c0, c1, _ = st.columns([1, 1, 2])
        stoppable = status.phase in ("starting", "training") and not status.stop_requested and unlocked()
        keep = c0.button("Stop and keep", icon=":material/stop:", key="stop_keep", disabled=not stoppable,
                         help="Stop after the current batch and keep the model as a version")
        discard = c1.button("Stop and discard", icon=":material/delete:", key="stop_discard",
                            disabled=not stoppable, help="Stop after the current batch and throw the model away")
        if (keep or discard) and not unlocked():
            st.error(LOCKED_MESSAGE, icon=":material/lock:")
        elif keep or discard:
            manager.stop(keep=keep)
        if status.stop_requested:
            st.caption("Stop requested: the trainer stops after the current batch.")
    elif status.state in ("finished", "stopped"):
        m = status.metrics or {}
        how = (f"stopped by you at epoch {status.epoch}" if status.state == "stopped" else
               f"{status.stop_reason.replace('_', ' ')}")
        st.success(f"Saved as **{status.name}** ({how}): test −ELBO {m.get('neg_elbo', float('nan')):.1f} nats, "
                   f"5-NN accuracy {m.get('knn5_accuracy', float('nan')):.1%}.", icon=":material/check_circle:")
        if st.session_state.get("active_model") != status.name:
            if st.button("Explore this model", key="use_new_model"):
                switch_model(status.name)
                st.rerun(scope="app")  # a button in a fragment reruns only the fragment
    elif status.state == "discarded":
        st.info("The run was stopped and discarded: no model was saved.")
    elif status.state == "failed":
        st.error(f"Training failed: {status.error}. No model was written.", icon=":material/error:")
    if status.early_stopping:
        es = status.early_stopping
        st.info(f"Early stopping: the validation loss did not improve for {es.get('patience')} epochs; "
                f"the weights of epoch {es.get('best_epoch')} are kept.", icon=":material/flag:")

    if status.recent or status.history:
        st.plotly_chart(live_training_figure(status.recent, status.history, status.batches),
                        key="train_curves")
        st.caption("Lines: running means over the current epoch; diamonds: the held-out validation slice.")
    preview = manager.preview()
    if preview is not None:
        epoch = int(preview["epoch"])
        st.markdown(f"**The latent space after epoch {epoch}**")
        a, b = st.columns([2, 3], gap="large")
        with a:
            st.image(upscale(preview["manifold"], 336), output_format="PNG", width=336,
                     caption=f"decoded 12×12 grid over z ∈ [−{float(preview['extent']):.0f}, "
                             f"{float(preview['extent']):.0f}]²")
        with b:
            st.plotly_chart(preview_scatter(preview["z"], preview["labels"], epoch, 380,
                                            spec=get_dataset(recorded_dataset(status.config))),
                            key="train_preview_scatter")


def render(explorer):
    enabled, max_epochs = operator_settings()
    if not enabled:
        st.info("Training is switched off on this server by its operator "
                "(VAE_TRAINING=off or `[vae] training = false` in .streamlit/secrets.toml). "
                "Everything else works; train locally with `python -m vae.train`.", icon=":material/lock:")
        return
    manager = job_manager()
    status = manager.status()
    running = status is not None and status.state == "running"
    st.markdown("Train a new version of the model in the background and watch it learn. "
                "The explorer stays usable meanwhile; one job runs at a time on this server.")
    if max_epochs < HARD_MAX_EPOCHS:
        st.caption(f"The operator caps training at {max_epochs} epochs.")
    unlock_form("train", "starting, stopping and deleting")
    _settings_form(max_epochs, running, explorer)
    st.divider()
    st.fragment(run_every=1.0 if running else None)(_live)(manager)
