"""AppTest for the Train tab and the model picker, on a throw-away models directory."""
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from vae.jobs.people import display_name, owner_id

from conftest import REPO_ROOT
from harness.ray_cluster import free_port
from helpers import LONG, trainer_pid, wait_for

APP = str(REPO_ROOT / "app.py")
ALICE, BOB = "alice-browser-secret-0000", "bob-browser-secret-000000"  # cookies of two browsers


def run(view=None, token=None):
    """A session of the app on `view`, as the browser holding the cookie `token` (None: a first
    visit, before the page has told the server who it is)."""
    at = AppTest.from_file(APP, default_timeout=180)
    if view:
        at.query_params["view"] = view
    if token:
        at.session_state["browser_identity"] = {"token": token}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def table_rows(at):
    """The rows of the "Everyone's jobs" table: [who, what, where it stands]."""
    tables = [t for t in at.table]
    return [list(map(str, row)) for row in tables[0].value.itertuples(index=False)] if tables else []


def test_training_can_be_switched_off_by_the_operator(models_dir, monkeypatch):
    monkeypatch.setenv("VAE_TRAINING", "off")
    at = run("Train")
    assert any("switched off" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "train_start"]


def test_epochs_are_bounded_and_capped_by_the_operator(models_dir, monkeypatch):
    at = run("Train")
    epochs = at.slider(key="train_epochs@fast")
    assert (epochs.min, epochs.max, epochs.value) == (1, 100, 20)  # the fast recipe's 20, the page's default
    monkeypatch.setenv("VAE_MAX_EPOCHS", "12")
    at = run("Train")
    epochs = at.slider(key="train_epochs@fast")
    assert (epochs.max, epochs.value) == (12, 12)
    assert any("caps training at 12" in c.value for c in at.caption)


def test_estimate_follows_the_settings(models_dir):
    at = run("Train")
    at.selectbox(key="train_recipe").set_value("reference").run()
    def estimate_seconds():
        text = next(c.value for c in at.caption if c.value.startswith("Estimated duration"))
        number = text.split("**")[1]  # "5 min 28 s" or "21 s"
        parts = [int(w) for w in number.replace("min", "").replace("s", "").split()]
        return parts[0] * 60 + parts[1] if len(parts) == 2 else parts[0]

    full = estimate_seconds()
    source = next(c.value for c in at.caption if c.value.startswith("Estimated duration"))
    assert "as measured when “reference” was trained, perhaps on another machine" in source  # nothing ran here yet
    at.number_input(key="train_limit").set_value(3000).run()
    quick = estimate_seconds()
    at.slider(key="train_epochs@reference").set_value(60).run()
    longer = estimate_seconds()
    assert quick < full and longer > quick


def test_invalid_quick_run_size_is_explained_and_start_disabled(models_dir):
    at = run("Train")
    at.number_input(key="train_limit").set_value(10).run()
    assert any("at least 20" in w.value for w in at.warning)
    assert at.button(key="train_start").disabled


def test_picker_switches_the_whole_explorer(models_dir):
    at = run("Model")
    assert at.sidebar.selectbox(key="model_picker").value == "reference"
    at.sidebar.selectbox(key="model_picker").set_value("tiny").run()
    assert not at.exception
    assert at.session_state["active_model"] == "tiny"
    assert at.query_params["model"] == "tiny"
    assert any(m.value.startswith("## Model “tiny”") for m in at.markdown)
    from vae.store.disk import read_metadata
    neg_elbo = read_metadata(models_dir / "tiny")["metrics"]["neg_elbo"]
    assert {m.label: m.value for m in at.sidebar.metric}["Test −ELBO"] == f"{neg_elbo:.1f}"


def test_a_delete_confirmation_never_carries_over_to_another_version(models_dir):
    shutil.copytree(models_dir / "tiny", models_dir / "tiny2")
    at = run("Model")
    at.sidebar.selectbox(key="model_picker").set_value("tiny").run()
    at.checkbox(key="delete_confirm_tiny").check().run()
    assert not at.button(key="delete_model").disabled
    at.sidebar.selectbox(key="model_picker").set_value("tiny2").run()
    assert at.checkbox(key="delete_confirm_tiny2").value is False
    assert at.button(key="delete_model").disabled


def test_a_version_deleted_elsewhere_falls_back_and_forgets_its_state(models_dir):
    # This session was exploring "gone" (drew on it, picked a digit); another session deleted it.
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["active_model"] = "gone"
    at.session_state["drawn"] = {"image": None, "z_mean": None, "z_log_var": None}
    at.session_state["picked_test"] = 7
    at.run()
    assert not at.exception
    assert at.session_state["active_model"] == "reference"
    assert "drawn" not in at.session_state and "picked_test" not in at.session_state
    assert at.query_params["model"] == "reference"


def test_the_shipped_model_cannot_be_deleted_but_others_can(models_dir):
    at = run("Model")
    assert not [b for b in at.button if b.key == "delete_model"]
    at.sidebar.selectbox(key="model_picker").set_value("tiny").run()
    assert at.button(key="delete_model").disabled
    at.checkbox(key="delete_confirm_tiny").check().run()
    at.button(key="delete_model").click().run()
    assert not at.exception
    assert not (models_dir / "tiny").exists()
    assert (models_dir / "reference" / "model.keras").exists()
    assert at.session_state["active_model"] == "reference"
    options = at.sidebar.selectbox(key="model_picker").options
    assert len(options) == 1 and options[0].startswith("reference (shipped)")


def test_your_job_first_others_listed_without_stop_and_one_job_each(models_dir):
    from vae.ui import training
    runner = training.job_runner()
    alices = runner.submit(LONG, owner_id(ALICE))
    try:
        wait_for(lambda: runner.status(alices).state == "running", 120, "Alice's job to start")
        at = run("Train", ALICE)  # Alice, in a new tab or after a reload: her job again, first
        assert at.get("progress"), "her running job's progress bar"
        assert at.button(key="stop_keep") and at.button(key="stop_discard")
        assert at.button(key="train_start").disabled
        assert any("one at a time" in c.value for c in at.caption)
        assert table_rows(at)[0][0] == f"{display_name(owner_id(ALICE))} (you)"

        at = run("Train", BOB)  # Bob sees Alice's job listed, anonymously, with no way to stop it
        assert not at.get("progress")
        assert not [b for b in at.button if b.key in ("stop_keep", "stop_discard", "operator_stop", "job_cancel")]
        rows = table_rows(at)
        assert rows[0][0] == display_name(owner_id(ALICE)) and "(you)" not in rows[0][0]
        assert "MNIST · reference · 500 epochs" in rows[0][1] and rows[0][2].startswith(("starting", "training"))
        assert not at.button(key="train_start").disabled
        at.number_input(key="train_limit").set_value(300).run()
        at.button(key="train_start").click().run()  # Bob queues behind Alice
        assert not at.exception, [e.value for e in at.exception]
        assert any("1st" in i.value and "in the queue" in i.value for i in at.info)
        assert at.button(key="job_cancel")
        at.button(key="job_cancel").click().run()
        bobs = next(s for s in runner.jobs() if s.owner == owner_id(BOB))
        assert bobs.state == "cancelled"
    finally:
        runner.stop(alices, operator=True)


def test_before_the_browser_says_who_it_is_nothing_starts(models_dir):
    at = run("Train", token=None)
    assert at.button(key="train_start").disabled
    assert any("Identifying this browser" in c.value for c in at.caption)


def test_a_damaged_model_file_is_reported_not_crashed(models_dir):
    (models_dir / "tiny" / "model.keras").write_bytes(b"not a zip at all")
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["model"] = "tiny"
    at.run()
    assert not at.exception
    assert any("Could not load the model “tiny”" in e.value for e in at.error)
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["active_model"] == "reference"
    pads = [json.loads(e.proto.json) for e in at.main
            if getattr(getattr(e, "proto", None), "component_name", "") == "vae_latent_pad"]
    assert len(pads) == 1 and pads[0]["model"].startswith("reference@")  # the pad is back, on the default


def test_a_killed_trainer_is_reported_on_the_page_and_leaves_no_model(models_dir):
    from vae.ui import training
    runner = training.job_runner()
    job = runner.submit(LONG, owner_id(ALICE))
    pid = wait_for(lambda: trainer_pid(runner, job), 120, "the trainer to start")
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not runner.status(job).active, 60, "the job to be seen ended")
    at = run("Train", ALICE)
    assert any("Training failed" in e.value and "without reporting" in e.value for e in at.error)
    assert not (models_dir / runner.status(job).name).exists()
    assert not at.button(key="train_start").disabled  # the slot is free again, and so is Alice


def test_with_a_password_only_the_operator_trains_unless_training_is_open_to_everyone(models_dir, monkeypatch):
    monkeypatch.setenv("VAE_OPERATOR_PASSWORD", "s3cret-for-the-teacher")
    assert run("Train", ALICE).button(key="train_start").disabled
    monkeypatch.setenv("VAE_TRAINING", "everyone")  # the teacher opens training to the class
    at = run("Train", ALICE)
    assert not at.button(key="train_start").disabled


def test_an_unreachable_ray_cluster_is_explained_and_the_explorer_keeps_working(models_dir, monkeypatch):
    from vae.ui import training
    monkeypatch.setenv("VAE_JOB_RUNNER", "ray")
    monkeypatch.setenv("RAY_ADDRESS", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    training._cached_runner.clear()
    at = run("Train", ALICE)
    errors = [e.value for e in at.error]
    assert any("cannot be reached" in e and "ray start" in e and "explorer keeps working" in e for e in errors), errors
    at = run("Latent pad", ALICE)
    assert not at.error


@pytest.mark.parametrize("env, value, words", [("VAE_MAX_JOBS", "lots", "VAE_MAX_JOBS must be a whole number"),
                                               ("VAE_JOB_RUNNER", "ray", "needs RAY_ADDRESS")])
def test_a_wrong_setting_is_named_on_the_train_tab(models_dir, monkeypatch, env, value, words):
    from vae.ui import training
    monkeypatch.setenv(env, value)
    training._cached_runner.clear()
    at = run("Train", ALICE)
    assert any(words in e.value for e in at.error), [e.value for e in at.error]


def test_the_local_runner_never_imports_ray(models_dir):
    """`streamlit run app.py` with the built-in runner and a local models folder: every tab, the
    Train tab included, without `ray`, nor the object store's stack (s3fs, fsspec, botocore), in
    sys.modules. tests/test_store_s3_app.py runs the same check over an s3:// store, and finds s3fs."""
    code = ("import sys\nfrom streamlit.testing.v1 import AppTest\n"
            "for view in ('Latent pad', 'Train', 'Model'):\n"
            "    at = AppTest.from_file('app.py', default_timeout=120)\n"
            "    at.query_params['view'] = view\n"
            "    at.run()\n"
            "    assert not at.exception, at.exception\n"
            "print(sorted(m for m in ('ray', 's3fs', 'fsspec', 'botocore', 'vae.store.s3') if m in sys.modules))")
    env = {**os.environ, "VAE_MODELS_DIR": str(models_dir)}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_picker_describes_each_version(models_dir):
    at = run()
    labels = at.sidebar.selectbox(key="model_picker").options
    tiny = next(label for label in labels if label.startswith("tiny"))
    from vae.store.disk import read_metadata
    meta = read_metadata(models_dir / "tiny")
    assert meta["created"][:10] in tiny and "2 epochs" in tiny and "300 imgs" in tiny
    assert f"−ELBO {meta['metrics']['neg_elbo']:.1f}" in tiny
    assert labels[0].startswith("reference (shipped)")
    assert tiny.count("300 imgs") == 1 and "2 epochs, 300 imgs, β 1, KL mean · −ELBO" in tiny
    # a version trained on all its images says nothing about a size, and leaves no empty item
    assert "30 epochs, β 1, KL mean · −ELBO 154.9" in labels[0] and ",  ·" not in labels[0]


def test_the_fast_recipe_is_the_pages_default_and_queues_what_the_form_does_not_show(models_dir):
    """The page offers the fast recipe first, with its expected time; its batch size, learning
    rate and warm-up, which have no widgets, go into the job with the options that do."""
    from vae.ml.recipes import RECIPES
    from vae.ui import training
    at = run("Train", ALICE)
    assert at.selectbox(key="train_recipe").value == "fast"
    note = next(c.value for c in at.caption if "Expected on 2 cores" in c.value)
    assert "batch 256" in note and "warm-up" in note and "about a minute" in note
    assert at.selectbox(key="train_arch@fast").value == "mlp"
    at.slider(key="train_epochs@fast").set_value(5).run()
    at.button(key="train_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    runner = training.job_runner()
    (job,) = [s for s in runner.jobs() if s.owner == owner_id(ALICE)]
    runner.stop(job.id, owner=owner_id(ALICE))
    expected = {**RECIPES["fast"].options, "epochs": 5, "recipe": "fast"}
    assert {k: getattr(job.config, k) for k in expected} == expected


def test_the_page_can_reproduce_the_shipped_large_recipe(models_dir):
    """The Train tab offers what models/large needed (architecture, KL sum, cosine schedule,
    patience 5): choosing its recipe queues exactly that config."""
    from vae.store.disk import read_metadata
    from vae.ui import training
    shipped = read_metadata(REPO_ROOT / "models" / "large")["options"]
    at = run("Train", ALICE)
    at.selectbox(key="train_recipe").set_value("large").run()
    at.button(key="train_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    runner = training.job_runner()
    (job,) = [s for s in runner.jobs() if s.owner == owner_id(ALICE)]
    runner.stop(job.id, owner=owner_id(ALICE))
    for option in ("arch", "kl_reduction", "lr_schedule", "patience", "epochs", "batch_size", "learning_rate",
                   "beta", "train_on", "limit", "seed", "dataset"):
        assert getattr(job.config, option) == shipped[option], option


def test_one_render_of_the_train_tab_scans_the_jobs_once(models_dir, monkeypatch):
    """Every scan reads every job's files (and, on Ray, asks the cluster): one full run of the
    Train tab, with a job of yours waiting, others' listed and an estimate, makes one."""
    from vae.jobs.events import END_FILE
    from vae.jobs.local import LocalRunner
    from vae.ui import training
    runner = LocalRunner(models_dir=models_dir, max_jobs=1, cpus=1, dispatch=False)
    try:
        for owner, state in ((BOB, "cancelled"), (ALICE, None), (BOB, None)):  # made, never dispatched
            info = runner.folder.create(runner.jobs(), runner.folder.prepare(LONG), owner_id(owner), False, 1)
            if state is not None:
                runner.folder.write(info.id, END_FILE, {"state": state, "time": info.submitted})
        scans = []
        scan = runner._scan

        def counted_scan():
            scans.append(1)
            return scan()
        monkeypatch.setattr(runner, "_scan", counted_scan)
        monkeypatch.setattr(training, "job_runner", lambda: runner)
        at = run("Train", ALICE)
        assert len(scans) == 1
        # and it shows all it did: Alice's job, everyone's, the estimate from the same scan
        assert any("1st" in i.value and "in the queue" in i.value for i in at.info)
        assert [row[2].split(":")[0] for row in table_rows(at)] == ["waiting", "waiting", "cancelled"]
        assert any(c.value.startswith("Estimated duration") for c in at.caption)
    finally:
        runner.close()
