"""Named recipes: what each holds, how explicit options override them, and that listing them
needs no TensorFlow."""
import dataclasses
import json
import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from vae import train
from vae.ml.config import TrainConfig
from vae.ml.recipes import DEFAULT_RECIPE, RECIPES, get_recipe, make_config


def test_the_three_promised_recipes_exist_and_describe_themselves_in_one_line():
    assert {"reference", "fast", "best", "large"} <= set(RECIPES)
    for name, recipe in RECIPES.items():
        assert recipe.name == name
        for text in (recipe.description, recipe.expected_time):
            assert text and "\n" not in text and len(text) < 160, (name, text)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_is_a_valid_config_of_known_options(name):
    known = {field.name for field in dataclasses.fields(TrainConfig)}
    assert set(RECIPES[name].options) <= known
    config = make_config(name)
    config.validate()
    assert config.recipe == name
    for key, value in RECIPES[name].options.items():
        assert getattr(config, key) == value, key


def test_reference_is_the_default_and_is_the_posts_recipe():
    assert DEFAULT_RECIPE == "reference"
    assert dataclasses.replace(make_config("reference"), recipe=None) == TrainConfig()
    config = make_config("reference")
    assert (config.arch, config.kl_reduction, config.learning_rate, config.batch_size, config.lr_schedule) == (
        "reference", "mean", 1e-3, 128, "constant")


def test_large_is_what_models_large_was_trained_with():
    recorded = json.loads((REPO_ROOT / "models" / "large" / "metadata.json").read_text())["options"]
    config = make_config("large")
    for key, value in recorded.items():
        assert getattr(config, key) == value, key


def test_fast_trains_an_architecture_the_browser_decodes_cheaply():
    from vae.ml.architectures import build_decoder
    from vae.ml.macs import decoder_macs
    fast = make_config("fast")
    assert fast.arch != "reference" and fast.kl_reduction == "sum"
    assert decoder_macs(build_decoder(fast.arch)) < decoder_macs(build_decoder("large")) / 4


def test_explicit_options_win_and_none_means_not_given():
    config = make_config("fast", epochs=3, seed=7, beta=None)
    assert (config.epochs, config.seed) == (3, 7)
    assert config.beta == RECIPES["fast"].options.get("beta", TrainConfig().beta)
    assert config.arch == RECIPES["fast"].options["arch"]
    assert get_recipe("fast").config(epochs=4).epochs == 4


def test_unknown_names_and_options_are_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown recipe 'quick'; known: reference, fast, best, large"):
        make_config("quick")
    with pytest.raises(ValueError, match="unknown training options: epoch"):
        make_config("fast", epoch=3)


def test_listing_recipes_imports_no_tensorflow():
    code = ("import sys, vae.ml.recipes as r; [ (x.options, x.description, x.expected_time) for x in r.RECIPES.values()];"
            "r.make_config('fast').validate();"
            "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


# -- the command line: --recipe, with explicit flags over it

def test_cli_recipe_with_an_explicit_flag_over_it():
    config = train.config_from_args(train.parse_args(["--recipe", "fast", "--epochs", "2", "--kl-reduction", "mean"]))
    assert (config.recipe, config.arch, config.epochs, config.kl_reduction) == (
        "fast", RECIPES["fast"].options["arch"], 2, "mean")
    assert config.learning_rate == RECIPES["fast"].options["learning_rate"]


def test_cli_without_a_recipe_trains_the_reference_recipe():
    config = train.config_from_args(train.parse_args([]))
    assert dataclasses.replace(config, recipe=None) == TrainConfig()
    config = train.config_from_args(train.parse_args(["--arch", "large", "--lr-schedule", "cosine"]))
    assert (config.arch, config.lr_schedule, config.kl_reduction) == ("large", "cosine", "mean")


def test_cli_refuses_an_unknown_recipe(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--recipe", "quick"])
    assert exit_info.value.code == 2
    assert "--recipe" in capsys.readouterr().err
