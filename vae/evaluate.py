"""`python -m vae.evaluate`: the held-out metrics of a saved version (vae.ml.metrics), printed
or recorded in its metadata.json.

The model cards in docs/models.md: `--json` gives −ELBO, reconstruction, KL and 5-NN;
`--json --iwae-k 1000 --iwae-images 2000` adds their IWAE row.

Usage: python -m vae.evaluate [--model DIR] [--json] [--iwae-k K] [--iwae-images N]
"""
import argparse
import json
import sys

from vae.ml.metrics import evaluate, iwae_of


def record_iwae(model_dir, model, arrays, k, n_images=None, seed=0, check_k=None, check_images=500,
                progress=False):
    """Add the IWAE metrics (and, with check_k, a convergence check of K against check_k on the
    first check_images test images) to a model directory's metadata.json, rewritten atomically."""
    from vae.store.disk import METADATA_FILE, atomic_file, read_metadata
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
    from vae.data.arrays import DataError
    from vae.store.versions import open_dir
    try:
        version = open_dir(args.model)
        model_dir = version.path
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
