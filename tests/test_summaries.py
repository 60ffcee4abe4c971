"""The figures in words: the map's per-class centres and spreads, the curves' key epochs."""
import numpy as np

from vae.explorer.summaries import class_spreads, history_rows, map_sentence, spread_rows


def test_class_spreads_are_each_class_centre_and_spread():
    rng = np.random.default_rng(0)
    centres = {0: (-2.0, 0.0), 1: (2.0, 1.0), 2: (2.2, 1.1)}
    z = np.concatenate([rng.normal(c, s, (400, 2)) for (c, s) in
                        ((centres[0], 0.1), (centres[1], 0.5), (centres[2], 0.3))])
    labels = np.repeat([0, 1, 2], 400)
    spreads = class_spreads(z, labels, ["zero", "one", "two", "never seen"])
    assert [s.name for s in spreads] == ["zero", "one", "two"]  # a class with no images has no row
    assert [s.count for s in spreads] == [400, 400, 400]
    for s, c in zip(spreads, (0, 1, 2)):
        np.testing.assert_allclose(s.centre, centres[c], atol=0.06)
    np.testing.assert_allclose(spreads[1].spread, (0.5, 0.5), atol=0.05)
    sentence = map_sentence(spreads, "digit")
    assert "tightest class is zero" in sentence and "widest one" in sentence
    assert "nearest class centres are one and two" in sentence
    rows = spread_rows(spreads)
    assert rows[0]["class"] == "zero" and rows[0]["test images"] == 400
    assert abs(rows[0]["centre z[0]"] + 2.0) < 0.06


def test_history_rows_pick_first_best_and_last_epoch():
    history = {"loss": [3.0, 2.0, 1.5, 1.4], "val_neg_elbo": [5.0, 3.0, 4.0, 4.5], "neg_elbo": [4, 3, 2, 1]}
    rows = history_rows(history)
    assert list(rows[0]) == ["curve", "epoch 1 (first)", "epoch 2 (best)", "epoch 4 (last)"]
    by_curve = {row["curve"]: row for row in rows}
    assert by_curve["-ELBO (true) · validation"]["epoch 2 (best)"] == 3.0
    assert by_curve["total (trained)"]["epoch 4 (last)"] == 1.4
    # the last epoch is the best: one column says both
    rows = history_rows({"loss": [2.0, 1.0], "val_neg_elbo": [3.0, 2.0]})
    assert list(rows[0])[1:] == ["epoch 1 (first)", "epoch 2 (last and best)"]
    assert history_rows({}) == []
