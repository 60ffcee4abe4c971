"""`python -m vae.train`: train a VAE from a recipe and write a complete model version.

The training itself is vae.ml.fit; this command evaluates the model on the held-out test set
and saves it, with its browser files, to a models folder or an object store (vae.store).

Usage: python -m vae.train [--recipe fast] [--dataset mnist] [--arch reference|large|mlp] [--epochs N] [--out DIR] ...
"""
import argparse
import sys

from vae.ml.config import KL_REDUCTIONS, LR_SCHEDULES, STOP_USER, run_name
from vae.ml.fit import build_metadata, fit, progress_bar


def train_and_save(config, out, callbacks=(), user_stop=None, verbose=0, arrays=None,
                   keep_partial=True):
    """The whole recipe: fit, evaluate on the held-out test set, write `out` atomically.

    Returns the model directory, or None when the user stopped and asked not to keep it.
    `keep_partial` is a bool, or a zero-argument callable asked when training ends
    (so a trainer process can read the user's latest choice).
    """
    from vae.data.arrays import load_arrays
    from vae.data.datasets import get_dataset
    from vae.ml.metrics import evaluate
    from vae.store.location import split_target

    versions, name = split_target(out)  # a folder's, or an object store's (s3://…/NAME)
    if versions.exists(name):  # fail before spending minutes on training
        raise FileExistsError(f"{out} already exists; choose another --out")
    spec = get_dataset(config.dataset)
    arrays = arrays if arrays is not None else load_arrays(dataset=spec)
    model, summary = fit(config, arrays, callbacks, user_stop, verbose)
    keep = keep_partial() if callable(keep_partial) else keep_partial
    if summary["stop_reason"] == STOP_USER and not keep:
        return None
    metrics = evaluate(model, arrays, seed=config.seed, spec=spec)
    metadata = build_metadata(config, summary, metrics, spec.content_sha256, name)
    return versions.write(name, model, metadata, arrays["x_test"]).path  # a local directory, in both cases


def default_out_dir(models_dir=None):
    from vae import settings
    from vae.store.location import join
    return join(models_dir or settings.models_location(), run_name())


def parse_args(argv=None):
    """Options left out are None: the recipe's value (or TrainConfig's default) is used."""
    from vae.ml.architectures import ARCHITECTURES
    from vae.data.datasets import DATASETS
    from vae.ml.recipes import DEFAULT_RECIPE, RECIPES
    p = argparse.ArgumentParser(description="Train a conv VAE on a bundled dataset.")
    p.add_argument("--recipe", choices=tuple(RECIPES), default=DEFAULT_RECIPE,
                   help="named preset of the options below (vae/ml/recipes.py); options given explicitly win")
    p.add_argument("--dataset", choices=tuple(DATASETS))
    p.add_argument("--arch", choices=tuple(ARCHITECTURES), help="encoder/decoder pair (vae/ml/architectures.py)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--beta", type=float, help="weight of the KL term")
    p.add_argument("--kl-reduction", choices=KL_REDUCTIONS,
                   help="mean over latent dims (reference) or sum (true ELBO)")
    p.add_argument("--kl-warmup-epochs", type=float, help="KL weight rises from 0 to beta over these epochs")
    p.add_argument("--latent-dim", type=int)
    p.add_argument("--train-on", choices=("train", "all"),
                   help="train: the training split, test unseen; all: both, as the reference did")
    p.add_argument("--limit", type=int, help="use only the first N images")
    p.add_argument("--seed", type=int)
    p.add_argument("--patience", type=int)
    p.add_argument("--learning-rate", type=float, help="Adam's (peak) rate")
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES,
                   help="constant (reference) or cosine decay to 5%% over the epochs")
    p.add_argument("--warmup-epochs", type=float, help="learning rate rises from 0 over these epochs first")
    p.add_argument("--out", default=None, help="model directory to create, or s3://bucket/prefix/NAME")
    p.add_argument("--quiet", action="store_true", help="no progress bar (there is none when piped either)")
    return p.parse_args(argv)


CLI_OPTIONS = ("dataset", "arch", "epochs", "batch_size", "beta", "kl_reduction", "kl_warmup_epochs",
               "latent_dim", "train_on", "limit", "seed", "patience", "learning_rate", "lr_schedule",
               "warmup_epochs")


def config_from_args(args):
    """The recipe's TrainConfig with every option given on the command line put over it."""
    from vae.ml.recipes import make_config
    return make_config(args.recipe, **{name: getattr(args, name) for name in CLI_OPTIONS})


def main(argv=None):
    args = parse_args(argv)
    from vae.data.arrays import DataError
    try:
        config = config_from_args(args)
        config.validate()
        out = args.out or default_out_dir()
        model_dir = train_and_save(config, out, callbacks=[] if args.quiet else [progress_bar()])
    except (ValueError, FileExistsError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from vae.store.disk import read_metadata
    meta = read_metadata(model_dir)
    m = meta["metrics"]
    print(f"saved {out}: {meta['epochs_run']} epochs ({meta['stop_reason']}) in "
          f"{meta['train_seconds']:.0f} s; test -ELBO {m['neg_elbo']:.2f} nats, "
          f"5-NN accuracy {m['knn5_accuracy']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
