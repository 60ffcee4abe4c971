"""Held-out metrics of a model, in nats per image on its dataset's test set.

  neg_elbo       = reconstruction + kl   (the true ELBO: KL summed over dims)
  reconstruction = E_q[-log p(x|z)], pixel BCE summed, one z sample per image
  kl             = KL(q(z|x) || N(0, I)), summed over latent dims
  knn5_accuracy  = 5-NN on z_mean, fit on the training split, scored on test
  iwae_nll       = -(IWAE bound on log p(x)) with K samples (vae.iwae), ≤ neg_elbo,
                   with iwae_stderr, its standard error over the test images

By default it measures the ELBO and the 5-NN accuracy, a few seconds after TensorFlow has
loaded. The IWAE bound costs K decodes per image, minutes on a CPU: it runs when asked,
with a progress bar on a terminal (stderr; none when piped, so --json stays one line).
The model cards in the README: `--json` gives −ELBO, reconstruction, KL and 5-NN;
`--json --iwae-k 1000 --iwae-images 2000` adds their IWAE row.

Usage: python -m vae.evaluate [--model DIR] [--json] [--iwae-k K] [--iwae-images N]
"""
import argparse
import json
import sys

import numpy as np

from vae.likelihood import bce_per_image, kl_per_image


def elbo_terms(model, images, seed=0, batch=2048):
    """Per-image (reconstruction, kl) in nats, with one seeded z sample each."""
    from vae.data import to_model_input
    from vae.model import encode_all
    rng = np.random.default_rng(seed)
    z_mean, z_log_var = encode_all(model, images, batch)
    z = z_mean + np.exp(0.5 * z_log_var) * rng.standard_normal(z_mean.shape).astype("float32")
    recon = np.empty(len(images), dtype="float64")
    for start in range(0, len(images), batch):
        x = to_model_input(images[start:start + batch])[..., 0]
        recon[start:start + batch] = bce_per_image(x, model.decode(z[start:start + batch]))
    return recon, kl_per_image(z_mean.astype("float64"), z_log_var.astype("float64")), z_mean


def evaluate(model, arrays, seed=0, spec=None, iwae_k=0, iwae_images=None, progress=False):
    """The held-out metrics for `model` on the verified `arrays` of dataset `spec`
    (a DatasetSpec or name; None is the default dataset). With iwae_k > 0, also the
    IWAE bound with K = iwae_k on the first `iwae_images` test images (None: all);
    `progress` shows its bar on a terminal."""
    from vae.datasets import get_dataset
    from vae.knn import knn_accuracy
    from vae.model import encode_all
    spec = get_dataset(spec)
    recon, kl, z_test = elbo_terms(model, arrays["x_test"], seed)
    z_train, _ = encode_all(model, arrays["x_train"])
    return {
        "neg_elbo": float(np.mean(recon + kl)),
        "reconstruction": float(np.mean(recon)),
        "kl": float(np.mean(kl)),
        "knn5_accuracy": knn_accuracy(z_train, arrays["y_train"], z_test, arrays["y_test"], k=5,
                                      n_classes=spec.n_classes),
        **(iwae_of(model, arrays, iwae_k, iwae_images, seed, progress) if iwae_k else {}),
    }


def iwae_of(model, arrays, k, n_images=None, seed=0, progress=False):
    from vae.iwae import iwae_metrics
    return iwae_metrics(model, arrays["x_test"][:n_images], k=k, seed=seed, progress=progress)


def record_iwae(model_dir, model, arrays, k, n_images=None, seed=0, check_k=None, check_images=500,
                progress=False):
    """Add the IWAE metrics (and, with check_k, a convergence check of K against check_k on the
    first check_images test images) to a model directory's metadata.json, rewritten atomically."""
    from vae.store import METADATA_FILE, atomic_file, read_metadata
    metadata = read_metadata(model_dir)
    metrics = iwae_of(model, arrays, k, n_images, seed, progress)
    if check_k:
        low = iwae_of(model, arrays, k, check_images, seed, progress)["iwae_nll"]
        high = iwae_of(model, arrays, check_k, check_images, seed, progress)["iwae_nll"]
        metrics["iwae_convergence"] = {"images": check_images, "k": k, "check_k": check_k,
                                       "iwae_nll_k": low, "iwae_nll_check_k": high,
                                       "difference": low - high}
    metadata["metrics"].update(metrics)
    with atomic_file(model_dir / METADATA_FILE) as f:  # the layout write_model_dir gives it
        f.write(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    return metadata["metrics"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model directory or name in models/ (default: the shipped model)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seed", type=int, default=0, help="seed of the z samples")
    parser.add_argument("--iwae-k", type=int, default=0,
                        help="importance samples per image for the IWAE bound (the model cards: 1000); "
                             "default 0, no IWAE: it costs K decodes per image")
    parser.add_argument("--iwae-images", type=int, default=None,
                        help="IWAE on the first N test images only (the model cards: 2000; default: all)")
    parser.add_argument("--record", action="store_true",
                        help="store the IWAE metrics in the model's metadata.json (atomic rewrite)")
    parser.add_argument("--check-k", type=int, default=None,
                        help="with --record: also compare K with this many samples on 500 test images")
    args = parser.parse_args(argv)

    if args.record and not args.iwae_k:
        parser.error("--record stores the IWAE metrics: give --iwae-k too")
    from vae.data import DataError
    from vae.store import resolve_model_dir
    from vae.versions import open_dir
    try:
        model_dir = resolve_model_dir(args.model)
        version = open_dir(model_dir)
        arrays = version.test_set()
    except (FileNotFoundError, ValueError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    spec, model = version.dataset, version.load_model()
    if args.record:
        recorded = record_iwae(model_dir, model, arrays, args.iwae_k, args.iwae_images, args.seed,
                               check_k=args.check_k, progress=True)
        print(json.dumps({k: v for k, v in recorded.items() if k.startswith("iwae")}))
        return 0
    metrics = evaluate(model, arrays, args.seed, spec, iwae_k=args.iwae_k, iwae_images=args.iwae_images,
                       progress=True)
    if "iwae_nll" in metrics:
        metrics["iwae_neg_log_likelihood"] = metrics.pop("iwae_nll")
    metrics["dataset"] = spec.name
    metrics["model"] = str(model_dir)
    if args.json:
        print(json.dumps(metrics))
    else:
        print(f"model           {model_dir} ({spec.title})")
        print(f"-ELBO           {metrics['neg_elbo']:.2f} nats/image")
        print(f"  reconstruction {metrics['reconstruction']:.2f}")
        print(f"  KL             {metrics['kl']:.2f}")
        if "iwae_neg_log_likelihood" in metrics:
            print(f"IWAE -log p(x)  {metrics['iwae_neg_log_likelihood']:.2f} ± {metrics['iwae_stderr']:.2f} "
                  f"nats/image (K = {metrics['iwae_k']}, {metrics['iwae_images']} images)")
        print(f"5-NN accuracy   {metrics['knn5_accuracy']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
