"""k-nearest-neighbour labels in latent space, in plain NumPy.

The latent space is tiny (2-D by default), so brute force in chunks is fast
enough: 10k queries against 60k references take about a second.
"""
import numpy as np


def nearest(reference, queries, k=5, chunk=256):
    """Indices (n_queries, k) of the k nearest reference rows, nearest first."""
    # float64: in float32 the expanded |r|^2 - 2 q.r loses enough to swap near neighbours
    reference = np.asarray(reference, dtype="float64")
    queries = np.atleast_2d(np.asarray(queries, dtype="float64"))
    k = min(k, len(reference))
    ref_sq = np.einsum("ij,ij->i", reference, reference)
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        q = queries[start:start + chunk]
        # |q - r|^2 without the |q|^2 term, which does not change the order
        dist = ref_sq[None, :] - 2.0 * q @ reference.T
        part = np.argpartition(dist, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(dist, part, axis=1).argsort(axis=1, kind="stable")
        out[start:start + chunk] = np.take_along_axis(part, order, axis=1)
    return out


def vote(neighbour_labels, n_classes=None):
    """Majority label per row; ties go to the label of the nearer neighbour.

    n_classes is the dataset spec's; None counts up to the largest label seen.
    """
    neighbour_labels = np.atleast_2d(neighbour_labels)
    n, k = neighbour_labels.shape
    n_classes = int(neighbour_labels.max()) + 1 if n_classes is None else n_classes
    counts = np.zeros((n, n_classes), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(n), k), neighbour_labels.ravel()), 1)
    # Tie-break: among the labels with the top count, the one seen first wins.
    best = counts.max(axis=1, keepdims=True)
    is_best = counts[np.arange(n)[:, None], neighbour_labels] == best
    return neighbour_labels[np.arange(n), is_best.argmax(axis=1)]


def knn_predict(reference, reference_labels, queries, k=5, n_classes=None):
    idx = nearest(reference, queries, k)
    return vote(np.asarray(reference_labels)[idx], n_classes), idx


def knn_accuracy(reference, reference_labels, queries, query_labels, k=5, n_classes=None):
    predicted, _ = knn_predict(reference, reference_labels, queries, k, n_classes)
    return float(np.mean(predicted == np.asarray(query_labels)))
