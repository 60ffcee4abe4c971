"""The new-job form: a recipe, then every option it sets, and the estimated duration."""
import streamlit as st

from vae.data.datasets import DATASETS
from vae.jobs.estimates import estimate_seconds
from vae.ml.architectures import ARCHITECTURES
from vae.ml.config import LR_SCHEDULES
from vae.ml.recipes import RECIPES, make_config
from vae.settings import HARD_MAX_EPOCHS
from vae.ui.training.wording import duration

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


def settings_form(runner, statuses, max_epochs, explorer):
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
    st.caption(f"Estimated duration once it starts: **{duration(estimate_seconds(config, speed))}**, at "
               f"{speed.images_per_second:,.0f} images/s {speed.source}. Early stopping may end it sooner.")
    return config
