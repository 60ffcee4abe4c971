"""Train your own version in the browser: choose the recipe, wait your turn, watch it learn.

Every person (browser) may have one job queued or running; the operator any number. Jobs
run on the runner the settings name (vae.jobs: trainer processes here, or a Ray cluster);
this page submits them, reads where they stand, and asks to stop them. Your own job comes
first, then everyone's; a reload or a second tab finds your job again by this browser's
cookie (vae/ui/browser_identity), never by the link.
"""
import streamlit as st

from vae import settings
from vae.ml.architectures import ARCHITECTURES
from vae.ml.config import LR_SCHEDULES
from vae.data.datasets import DATASETS, get_dataset
from vae.data.drawing import upscale
from vae.explorer.figures import live_training_figure, preview_scatter
from vae.jobs import NotWritableError, OwnerBusy, RunnerUnavailable
from vae.jobs.runner import make_runner
from vae.jobs.estimates import estimate_seconds
from vae.jobs.people import display_name
from vae.ml.recipes import RECIPES, make_config
from vae.settings import HARD_MAX_EPOCHS, SettingError
from vae.ui.browser_identity import browser_owner
from vae.ui.model_panel import epochs_text
from vae.ui.notices import notify
from vae.ui.operator_lock import LOCKED_MESSAGE, password, unlock_form, unlocked
from vae.ui.state import switch_model, tab_fragment

WATCHED_KEY = "jobs_watched"  # ids of this session's jobs seen active: their end switches the model
PREVIEW_PX = 320  # on screen, whatever the dataset's image size (the manifold is upscaled, pixels kept crisp)


def _runner_key():
    """What the runner depends on: a change of settings makes a new one."""
    return (settings.job_runner(), str(settings.models_location()), str(settings.jobs_dir()), settings.max_jobs(),
            settings.job_cpus(), settings.ray_address(), settings.ray_code())


@st.cache_resource(on_release=lambda runner: runner.close(), show_spinner=False)
def _cached_runner(key):
    return make_runner()


def job_runner():
    """This server's runner (one per process and settings); raises RunnerUnavailable or SettingError."""
    return _cached_runner(_runner_key())


def _duration(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _ordinal(n):
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _what(config):
    """dataset · architecture · epochs · data: what a job (its TrainConfig) trains, in a few words."""
    spec = get_dataset(config.dataset)
    data = f"first {config.limit:,} images" if config.limit else (
        "train + test" if config.train_on == "all" else f"{spec.n_train:,} images")
    return f"{spec.title} · {config.arch} · {epochs_text(config.epochs)} · {data}"


def _where(s):
    """Where a job stands, in a few words."""
    if s.state == "queued":
        eta = f", starts in about {_duration(s.start_eta)}" if s.start_eta is not None else ""
        return f"waiting: {_ordinal(s.position)} in the queue{eta}" if s.position else "waiting"
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


# -- who may do what ------------------------------------------------------------------

def _roles(mode):
    """(is operator, may start a job). With a password set, only the operator trains, unless
    training is open to everyone (VAE_TRAINING=everyone, for a class)."""
    has_password = password() is not None
    operator = has_password and unlocked()
    return operator, (not has_password) or operator or mode == "everyone"


# -- the new-job form --------------------------------------------------------------------

PAGE_RECIPE = "fast"  # the page's default: a good model in about a minute (vae/ml/recipes.py)
ARCH_HELP = {"reference": "the reference post's model", "large": "wider and deeper, a sharper decoder (slower)",
             "mlp": "Dense layers only (quickest)"}
KL_LABELS = {"mean": "mean over dims (reference)", "sum": "sum over dims (true ELBO)"}
SCHEDULE_LABELS = {"constant": "constant", "cosine": "cosine decay to 5% over the epochs"}


def recipe_key(name, recipe):
    """A widget's key under a recipe. The recipe's options are the defaults of widgets keyed by
    it: choosing another recipe makes new widgets with its values, and no widget's state is
    written from Python (a re-mounted widget reports its default, which must be what it showed)."""
    return f"{name}@{recipe}"


def _recipe_note(recipe):
    """What the recipe sets (its batch size and warm-up have no widgets), and how long it takes."""
    return f"{recipe.details} Expected on 2 cores: {recipe.expected_time}."


def _settings_form(runner, statuses, max_epochs, explorer):
    """The settings of a new job, as a TrainConfig, or None when they do not validate.
    `statuses`: this run's jobs, what the estimate's measured speed comes from."""
    names = list(RECIPES)
    name = st.selectbox("Recipe", names, key="train_recipe", index=names.index(PAGE_RECIPE),
                        format_func=lambda n: f"{n}: {RECIPES[n].headline}",
                        help="A preset of every option (vae/ml/recipes.py). It fills in the options below; "
                             "change any of them after.")
    recipe = RECIPES[name]
    st.caption(_recipe_note(recipe))
    defaults = recipe.config()
    c0, c1, c2 = st.columns(3)
    dataset = c0.selectbox("Dataset", list(DATASETS), key="train_dataset",
                           index=list(DATASETS).index(explorer.dataset.name),
                           format_func=lambda n: DATASETS[n].title)
    arch = c1.selectbox("Architecture", list(ARCHITECTURES), key=recipe_key("train_arch", name),
                        index=list(ARCHITECTURES).index(defaults.arch),
                        format_func=lambda n: f"{n}: {ARCH_HELP.get(n, '')}")
    epochs = c2.slider("Epochs", 1, max_epochs, min(defaults.epochs, max_epochs),
                       key=recipe_key("train_epochs", name),
                       help=f"The {name} recipe trains {defaults.epochs} epochs; early stopping may end a run sooner.")
    spec = DATASETS[dataset]
    c0, c1, c2 = st.columns(3)
    kl = c0.radio("KL reduction", list(KL_LABELS), key=recipe_key("train_kl", name),
                  index=list(KL_LABELS).index(defaults.kl_reduction), format_func=KL_LABELS.get)
    schedule = c1.radio(f"Learning rate ({defaults.learning_rate:g})", list(LR_SCHEDULES),
                        key=recipe_key("train_schedule", name),
                        index=list(LR_SCHEDULES).index(defaults.lr_schedule), format_func=SCHEDULE_LABELS.get)
    patience = c2.number_input("Early-stopping patience (epochs)", 1, HARD_MAX_EPOCHS, defaults.patience,
                               key=recipe_key("train_patience", name),
                               help="Stop when the held-out loss has not improved for this many epochs; "
                                    "the best weights are kept.")
    c0, c1, c2 = st.columns(3)
    total = spec.n_train + spec.n_test
    data = c0.radio("Training data", ["train", "all"], key="train_data",
                    format_func=lambda v: {"train": f"the {spec.n_train:,}-image train split (test unseen)",
                                           "all": f"all {total:,}, as the reference"}[v])
    limit = c1.number_input("Quick run: first N images (0 = all)", 0, total, 0, 500, key="train_limit",
                            help="A few thousand images train in seconds: good for watching the map form.")
    beta = c2.number_input("KL weight β", 0.0, 20.0, 1.0, 0.1, key="train_beta",
                           help="β > 1 trades reconstruction for a smoother, more Gaussian latent space.")
    seed = c2.number_input("Random seed", 0, 2**31 - 1, 0, key="train_seed")
    try:
        # the recipe's other options (batch, learning rate, warm-ups) come with it
        config = make_config(name, epochs=int(epochs), beta=float(beta), kl_reduction=kl, train_on=data,
                             limit=int(limit) or None, seed=int(seed), dataset=dataset, arch=arch,
                             lr_schedule=schedule, patience=int(patience))
        config.validate()
    except ValueError as err:
        st.warning(str(err))
        return None
    speed = runner.speed(arch, statuses)
    st.caption(f"Estimated duration once it starts: **{_duration(estimate_seconds(config, speed))}**, at "
               f"{speed.images_per_second:,.0f} images/s {speed.source}. Early stopping may end it sooner.")
    return config


def _submit(runner, config, owner, operator):
    try:
        job_id = runner.submit(config, owner, operator=operator)
    except OwnerBusy as err:
        st.warning(f"One job at a time: {err}.", icon=":material/hourglass_top:")
    except NotWritableError as err:
        st.error(f"Training is not possible on this server: {err}, so a trained model could not "
                 "be saved. The operator can make it writable, or switch training off "
                 "(VAE_TRAINING=off).", icon=":material/block:")
    except RunnerUnavailable as err:
        st.error(f"Could not queue the job: {err}", icon=":material/cloud_off:")
    except (ValueError, OSError) as err:  # FileExistsError, a bad option, a spawn failing
        st.error(f"Could not start: {err}")
    else:
        st.session_state.setdefault(WATCHED_KEY, set()).add(job_id)
        st.rerun()


# -- your job, and everyone's -------------------------------------------------------------

def follow_my_jobs(statuses=None):
    """Called on every full run: when a job this session watched has ended with a version,
    that version becomes this session's model (nobody else's), once. `statuses`: the jobs,
    if the caller has just read them."""
    watched = st.session_state.get(WATCHED_KEY)
    if not watched:
        return
    try:
        statuses = {s.id: s for s in (job_runner().jobs() if statuses is None else statuses)}
    except (RunnerUnavailable, SettingError, OSError):
        return  # the Train tab says why; the explorer goes on
    for job_id in list(watched):
        s = statuses.get(job_id)
        if s is None or s.active:
            continue
        watched.discard(job_id)
        if s.state in ("finished", "stopped"):
            switch_model(s.name)
            notify(f"Your model “{s.name}” is ready: the explorer now shows it (only to you).",
                   icon=":material/check_circle:")


def _progress_text(s):
    if s.phase == "starting":
        return "Starting the trainer (importing TensorFlow, loading the data)…"
    if s.phase == "evaluating":
        return "Training done; evaluating on the held-out test set…"
    eta = f" · about {_duration(s.eta)} left" if s.eta is not None else ""
    speed = f" · {s.samples_per_second:,.0f} images/s" if s.samples_per_second else ""
    return f"Epoch {s.epoch}/{s.epochs} · batch {s.batch}/{s.batches}{eta}{speed}"


def _stop(runner, job_id, keep, owner, operator):
    try:
        runner.stop(job_id, keep=keep, owner=owner, operator=operator)
    except PermissionError as err:
        st.error(str(err), icon=":material/lock:")
    except RunnerUnavailable as err:
        st.error(f"Could not stop the job: {err}", icon=":material/cloud_off:")


def _your_job(runner, s, owner, operator):
    st.markdown(f"## Your job · {_what(s.config)}")
    st.caption(f"β = {s.config.beta} · KL {s.config.kl_reduction} · learning rate "
               f"{s.config.lr_schedule} · patience {s.config.patience} · "
               f"seed {s.config.seed} · version “{s.name}”")
    if s.state == "queued":
        eta = (f" It should start in about **{_duration(s.start_eta)}**, when the jobs ahead of it are done."
               if s.start_eta is not None else "")
        st.info(f"Waiting for a free slot: **{_ordinal(s.position or 1)}** in the queue.{eta}",
                icon=":material/hourglass_top:")
        if st.button("Cancel", key="job_cancel", icon=":material/close:"):
            _stop(runner, s.id, False, owner, operator)
            st.rerun()
    elif s.state == "running":
        st.progress(min(max(s.fraction, 0.0), 1.0), text=_progress_text(s))
        c0, c1, _ = st.columns([1, 1, 2])
        stoppable = s.phase in ("starting", "training") and not s.stop_requested
        if c0.button("Stop and keep", icon=":material/stop:", key="stop_keep", disabled=not stoppable,
                     help="Stop after the current batch and keep the model as a version"):
            _stop(runner, s.id, True, owner, operator)
        if c1.button("Stop and discard", icon=":material/delete:", key="stop_discard", disabled=not stoppable,
                     help="Stop now and throw the model away"):
            _stop(runner, s.id, False, owner, operator)
        if s.stop_requested:
            st.caption("Stop requested: the trainer stops after the current batch.")
    elif s.state in ("finished", "stopped"):
        m = s.metrics or {}
        how = f"stopped by you at epoch {s.epoch}" if s.state == "stopped" else f"{(s.stop_reason or 'done').replace('_', ' ')}"
        st.success(f"Saved as **{s.name}** ({how}): test −ELBO {m.get('neg_elbo', float('nan')):.1f} nats, "
                   f"5-NN accuracy {m.get('knn5_accuracy', float('nan')):.1%}.", icon=":material/check_circle:")
        if st.session_state.get("active_model") != s.name and st.button("Explore this model", key="use_new_model"):
            switch_model(s.name)
            st.rerun(scope="app")  # a button in a fragment reruns only the fragment
    elif s.state == "failed":
        st.error(f"Training failed: {s.error}. No model was written.", icon=":material/error:")
    else:
        st.info("The job was cancelled before it started." if s.state == "cancelled"
                else "The run was stopped and discarded: no model was saved.")
    if s.early_stopping:
        es = s.early_stopping
        st.info(f"Early stopping: the validation loss did not improve for {es.get('patience')} epochs; "
                f"the weights of epoch {es.get('best_epoch')} are kept.", icon=":material/flag:")
    if s.recent or s.history:
        st.plotly_chart(live_training_figure(s.recent, s.history, s.batches), key="train_curves")
        st.caption("Lines: running means over the current epoch; diamonds: the held-out validation slice.")
    preview = runner.preview(s.id) if s.preview_epoch else None
    if preview is not None:
        epoch = int(preview["epoch"])
        st.markdown(f"**The latent space after epoch {epoch}**")
        a, b = st.columns([2, 3], gap="large")
        with a:
            st.image(upscale(preview["manifold"], PREVIEW_PX), output_format="PNG", width=PREVIEW_PX,
                     alt=f"the decoder's images on a regular grid over the latent plane after epoch {epoch}",
                     caption=f"decoded grid over z ∈ [−{float(preview['extent']):.0f}, "
                             f"{float(preview['extent']):.0f}]²")
        with b:
            st.plotly_chart(preview_scatter(preview["z"], preview["labels"], epoch, 380,
                                            spec=get_dataset(s.config.dataset)),
                            key="train_preview_scatter")


def _everyone(runner, statuses, owner, operator):
    st.markdown("## Everyone's jobs")
    if not statuses:
        st.caption("No jobs yet.")
        return
    rows = [{"who": display_name(s.owner) + (" (you)" if s.owner == owner else ""), "what": _what(s.config),
             "where it stands": _where(s)} for s in statuses]
    st.table(rows, hide_index=True, border="horizontal")
    active = [s for s in statuses if s.active and s.owner != owner]
    if operator and active:  # only the operator stops other people's jobs
        c0, c1 = st.columns([3, 1], vertical_alignment="bottom")
        chosen = c0.selectbox("Stop someone's job (operator)", [s.id for s in active], key="operator_stop_pick",
                              format_func=lambda i: next(f"{display_name(s.owner)}: {_what(s.config)} ({_where(s)})"
                                                         for s in active if s.id == i))
        if c1.button("Stop it", key="operator_stop", icon=":material/stop:"):
            _stop(runner, chosen, False, owner, operator)


class JobsOfThisRun:
    """The jobs as one full run of the page read them: one scan, for every part of the tab.
    The jobs view, a fragment, takes them once; Streamlit reruns a fragment (every second,
    or for its own buttons) with the arguments of the full run that defined it, and those
    reruns must read the jobs afresh, not show these ones for ever."""

    def __init__(self, runner):
        self.runner = runner
        try:
            self.statuses, self.error = runner.jobs(), None
        except RunnerUnavailable as err:
            self.statuses, self.error = [], err  # the jobs view says what is wrong
        self._taken = False

    def take(self):
        """This run's jobs the first time; a new scan every time after (a fragment's own rerun)."""
        if self._taken:
            return self.runner.jobs()
        self._taken = True
        if self.error is not None:
            raise self.error
        return self.statuses


def _jobs_view(runner, scan, owner, operator):
    """Your job first, then everyone's; reruns every second while anything is queued or running."""
    try:
        statuses = scan.take()
    except RunnerUnavailable as err:
        st.error(f"The training runner is not available: {err} The explorer keeps working.",
                 icon=":material/cloud_off:")
        return
    mine = [s for s in statuses if owner is not None and s.owner == owner]
    current = next((s for s in mine if s.active), mine[0] if mine else None)
    watched = st.session_state.setdefault(WATCHED_KEY, set())
    if current is not None and current.active:
        watched.add(current.id)
    elif current is not None and current.id in watched:  # it ended while we watched
        follow_my_jobs(statuses)
        st.rerun(scope="app")  # the picker lists the new version, and the page stops polling
    if current is not None:
        with st.container(key="your_job"):
            _your_job(runner, current, owner, operator)
    with st.container(key="everyones_jobs"):
        _everyone(runner, statuses, owner, operator)


def render(explorer):
    try:
        mode, max_epochs = settings.training_mode(), settings.max_epochs()
        runner = job_runner() if mode != "off" else None
    except SettingError as err:
        st.error(f"Training is not available: a setting is wrong. {err}", icon=":material/settings:")
        return
    except RunnerUnavailable as err:
        st.error(f"Training is not available: {err} The explorer keeps working.", icon=":material/cloud_off:")
        return
    if mode == "off":
        st.info("Training is switched off on this server by its operator "
                "(VAE_TRAINING=off or `[vae] training = false` in .streamlit/secrets.toml). "
                "Everything else works; train locally with `python -m vae.train`.", icon=":material/lock:")
        return
    owner = browser_owner()
    operator, may_start = _roles(mode)
    st.markdown(f"Train your own version of the model and watch it learn. Jobs run {runner.describe()}. "
                "Each person may have one job queued or running; the explorer stays usable meanwhile.")
    if max_epochs < HARD_MAX_EPOCHS:
        st.caption(f"The operator caps training at {max_epochs} epochs.")
    unlock_form("train", "training, stopping anyone's job and deleting")
    scan = JobsOfThisRun(runner)  # the one scan of this run: each reads every job's files
    busy = any(s.owner == owner and s.active for s in scan.statuses) and not operator
    anything_active = any(s.active for s in scan.statuses)
    with st.container(key="jobs_view"):
        tab_fragment("Train", run_every=1.0 if anything_active else None)(_jobs_view)(runner, scan, owner, operator)
    st.markdown("## A new job")
    with st.container(key="new_job"):
        config = _settings_form(runner, scan.statuses, max_epochs, explorer)
    reason = (LOCKED_MESSAGE if not may_start else
              "You have a job queued or running: one at a time." if busy else
              "Identifying this browser…" if owner is None else None)
    if reason and may_start:
        st.caption(reason)
    if st.button("Start training", type="primary", icon=":material/play_arrow:", key="train_start",
                 disabled=config is None or reason is not None):
        _, may_start = _roles(mode)  # checked again: a disabled button can still be clicked by a crafted client
        if not may_start:
            st.error(LOCKED_MESSAGE, icon=":material/lock:")
        elif owner is None:
            st.warning("This browser is not identified yet: try again in a moment.")
        else:
            _submit(runner, config, owner, operator)
