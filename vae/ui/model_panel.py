"""Which model is active, how it was trained, and how well it does on held-out test images."""
import streamlit as st

from vae.ml.config import STOP_USER, recorded_arch, recorded_dataset
from vae.data.datasets import get_dataset
from vae.ml.describe import layer_rows, parameter_count
from vae.explorer.summaries import history_rows
from vae.explorer.figures import history_figure
from vae.store.disk import DEFAULT_MODEL, SHIPPED_MODELS
from vae.ui.notices import notify
from vae.ui.operator_lock import LOCKED_MESSAGE, unlock_form, unlocked
from vae.ui.state import available_models, models_store, switch_model


_last_labels = {}  # name → its label when it was last listed (see _label)


def _label(name):
    """name · date · how it was trained · how well it does: enough to choose in the list."""
    entry = models_store().entry(name)  # from the listing: nothing is downloaded to describe it
    if entry is None:
        # A version deleted since the list was drawn (here or on another server) keeps the label
        # it was shown with, so the choice still on screen maps to an option of that list.
        return _last_labels.get(name) or name + (" (shipped)" if name in SHIPPED_MODELS else "")
    _last_labels[name] = label = _describe(name, entry)
    return label


def _describe(name, entry):
    shipped = " (shipped)" if name in SHIPPED_MODELS else ""
    if entry.damage:
        return f"{name}{shipped} (damaged: {entry.damage})"
    try:
        meta = entry.metadata
        o, m = meta.get("options", {}), meta.get("metrics", {})
        run = (f"stopped at epoch {meta['epochs_run']}" if meta.get("stop_reason") == STOP_USER
               else epochs_text(meta["epochs_run"]))
        spec = get_dataset(recorded_dataset(meta))
        how = [run] + ([f"{o['limit']:,} imgs"] if o.get("limit") else []) + [f"β {o['beta']:g}",
                                                                             f"KL {o['kl_reduction']}"]
        return (f"{name}{shipped} · {spec.title} · {recorded_arch(meta)} · {meta['created'][:10]} · "
                f"{', '.join(how)} · −ELBO {m['neg_elbo']:.1f} · 5-NN {m['knn5_accuracy']:.0%}")
    except Exception:  # a version with odd metadata is still pickable, by name
        return name + shipped


def _switch():
    name = st.session_state["model_picker"]
    entry = models_store().entry(name)
    if entry is not None and entry.damage:  # stay on the model that works; the picker shows the active one again
        st.session_state["picker_error"] = f"“{name}” is damaged ({entry.damage}) and cannot be opened."
        return
    switch_model(name)


def delete_version(name, error_key, active):
    """The operator deletes the version `name` (the Model tab's button, a gallery card's). The lock
    is checked again here: a disabled or hidden button can still be sent by a crafted client. A
    failure is kept under `error_key` for the section to show; a session that was showing the
    version falls back to the default model."""
    if not unlocked():
        st.session_state[error_key] = LOCKED_MESSAGE
        return
    try:
        models_store().delete(name)
    except OSError as err:  # shipped, gone already, or the store cannot be reached
        st.session_state[error_key] = str(err)
        return
    if name == active:
        switch_model(DEFAULT_MODEL)
    notify(f"Deleted the version “{name}”.", icon=":material/delete:")


def _when(iso):
    return iso.replace("T", " ")[:16] + " UTC" if iso else "?"


def epochs_text(n):
    return f"{n} epoch{'' if n == 1 else 's'}"


def describe_options(options):
    kl = "mean over dims (reference)" if options.get("kl_reduction") == "mean" else "sum over dims (true ELBO)"
    spec = get_dataset(recorded_dataset(options))
    data = (f"all {spec.n_train + spec.n_test:,} {spec.title} images (train + test, as the reference)"
            if options.get("train_on") == "all" else f"the {spec.n_train:,}-image {spec.title} train split")
    limit = f", first {options['limit']:,} images" if options.get("limit") else ""
    return (f"β = {options.get('beta')}, KL {kl}, {data}{limit}, batch {options.get('batch_size')}, "
            f"seed {options.get('seed')}")


def _seen_test_note(meta):
    if meta.get("options", {}).get("train_on") == "all":
        spec = get_dataset(recorded_dataset(meta))
        st.warning(f"Trained on all {spec.n_train + spec.n_test:,} {spec.item_noun}s, the test set included: "
                   "its “test” metrics are not held out and flatter it.", icon=":material/warning:")


def sidebar(explorer):
    names = available_models()
    store = models_store()
    st.session_state["model_picker"] = explorer.name
    st.selectbox("Active model", names, key="model_picker", format_func=_label, on_change=_switch,
                 help="Every trained version in the model store, and the shipped ones. Switching "
                      "changes the whole explorer.")
    if store.problem:
        st.warning(store.problem, icon=":material/cloud_off:")
    if "picker_error" in st.session_state:
        st.warning(st.session_state.pop("picker_error"), icon=":material/broken_image:")
    meta = explorer.metadata
    m = meta.get("metrics", {})
    c0, c1 = st.columns(2)
    c0.metric("Test −ELBO", f"{m.get('neg_elbo', float('nan')):.1f}", help="nats per image, lower is better")
    c1.metric("5-NN accuracy", f"{m.get('knn5_accuracy', float('nan')):.1%}",
              help="Label accuracy of 5 nearest neighbours in latent space")
    _seen_test_note(meta)
    st.caption(f"{epochs_text(meta.get('epochs_run'))} ({meta.get('stop_reason', '').replace('_', ' ')}) · "
               f"{describe_options(meta.get('options', {}))}")
    model_file = explorer.version.model_file
    # A callable: the 1.2 MB file is read when the user clicks, not on every rerun.
    st.download_button("Download .keras", model_file.read_bytes, file_name=f"{explorer.name}.keras",
                       mime="application/octet-stream", icon=":material/download:",
                       on_click="ignore", width="stretch", key="download_model")
    st.divider()
    st.caption(f"Data: {explorer.dataset.credit}.")


def render(explorer):
    meta = explorer.metadata
    m = meta.get("metrics", {})
    st.markdown(f"## Model “{explorer.name}”")
    st.caption(f"{explorer.dataset.title} · architecture “{recorded_arch(meta)}”")
    cols = st.columns(5)
    cols[0].metric("Test −ELBO (nats)", f"{m.get('neg_elbo', float('nan')):.2f}")
    if "iwae_nll" in m:
        cols[1].metric(f"−log p(x), IWAE K={m.get('iwae_k')}", f"{m['iwae_nll']:.2f}",
                       help=f"The importance-weighted bound: tighter than the ELBO, what papers report. "
                            f"Standard error ±{m.get('iwae_stderr', float('nan')):.2f} nats.")
    else:
        cols[1].metric("−log p(x), IWAE", "—",
                       help="Not measured for this version: python -m vae.evaluate --model DIR computes it")
    cols[2].metric("Reconstruction", f"{m.get('reconstruction', float('nan')):.2f}")
    cols[3].metric("KL (summed)", f"{m.get('kl', float('nan')):.2f}")
    cols[4].metric("5-NN accuracy", f"{m.get('knn5_accuracy', float('nan')):.2%}")
    _seen_test_note(meta)
    st.markdown(
        f"Trained {_when(meta.get('created'))} for **{epochs_text(meta.get('epochs_run'))}** "
        f"(stop: {meta.get('stop_reason', '?').replace('_', ' ')}; best epoch {meta.get('best_epoch')}) "
        f"in {meta.get('train_seconds', 0):.0f} s at {meta.get('samples_per_second', 0):,.0f} images/s "
        f"on {meta.get('train_images', 0):,} images, {meta.get('val_images', 0):,} held out for early stopping.  \n"
        f"Settings: {describe_options(meta.get('options', {}))}.")
    if meta.get("history"):
        st.plotly_chart(history_figure(meta["history"], height=360), key="model_history")
        st.caption("Solid: training batches; dotted: the held-out validation slice. "
                   "The trained loss uses the KL reduction above; −ELBO always sums KL over dims.")
        st.markdown("**The curves at their first, best and last epochs**")
        st.table(history_rows(meta["history"]), hide_index=True, border="horizontal")
    with st.expander("Architecture and metrics, precisely"):
        _architecture(explorer)
        noun = explorer.noun
        st.markdown(
            f"- **−ELBO** on the {len(explorer.x_test):,} test {noun}s: pixel binary cross-entropy summed per "
            "image, with one sampled z, plus KL(q(z|x) ‖ N(0, I)) summed over latent dims.\n"
            f"- **−log p(x), IWAE**: the importance-weighted bound with K samples of q(z|x) per {noun}; "
            "never above the −ELBO.\n"
            f"- **5-NN accuracy**: majority label of the 5 nearest training {noun}s (by z_mean) of each test {noun}.")
        st.json({k: meta.get(k) for k in ("options", "versions", "data_sha256", "seed")}, expanded=False)
    with st.expander("Delete this version"):
        delete_section(explorer)


def _architecture(explorer):
    """The layers of the loaded model itself, so any architecture is described truly."""
    with st.spinner("Loading the model…"):
        model = explorer.model
    for part in (model.encoder, model.decoder):
        st.markdown(f"**{part.name.capitalize()}**: {parameter_count(part):,} parameters")
        st.dataframe(layer_rows(part), hide_index=True, width="stretch",
                     column_config={"parameters": st.column_config.NumberColumn(format="localized")})


def delete_section(explorer):
    if explorer.name in SHIPPED_MODELS:
        st.caption("Models that ship with VAE Explorer cannot be deleted.")
        return
    unlock_form("model", "starting, stopping and deleting")
    if "delete_error" in st.session_state:
        st.error(st.session_state.pop("delete_error"))
    # Keyed by model: a tick given for one version must never carry over to another.
    sure = st.checkbox(f"Yes, delete “{explorer.name}” for good", key=f"delete_confirm_{explorer.name}")
    st.button("Delete this version", icon=":material/delete_forever:", disabled=not (sure and unlocked()),
              key="delete_model", on_click=delete_version, args=(explorer.name, "delete_error", explorer.name))
