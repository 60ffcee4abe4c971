"""Your job: where it stands, its buttons, its curves and its latent-space preview."""
import streamlit as st

from vae.data.datasets import get_dataset
from vae.data.drawing import upscale
from vae.explorer.figures import live_training_figure, preview_scatter
from vae.ui.state import switch_model
from vae.ui.training.actions import stop
from vae.ui.training.wording import duration, ordinal, progress_text, what

PREVIEW_PX = 320  # on screen, whatever the dataset's image size (the manifold is upscaled, pixels kept crisp)


def your_job(runner, s, owner, operator):
    st.markdown(f"## Your job · {what(s.config)}")
    st.caption(f"β = {s.config.beta} · KL {s.config.kl_reduction} · learning rate "
               f"{s.config.lr_schedule} · patience {s.config.patience} · "
               f"seed {s.config.seed} · version “{s.name}”")
    if s.state == "queued":
        eta = (f" It should start in about **{duration(s.start_eta)}**, when the jobs ahead of it are done."
               if s.start_eta is not None else "")
        st.info(f"Waiting for a free slot: **{ordinal(s.position or 1)}** in the queue.{eta}",
                icon=":material/hourglass_top:")
        if st.button("Cancel", key="job_cancel", icon=":material/close:"):
            stop(runner, s.id, False, owner, operator)
            st.rerun()
    elif s.state == "running":
        st.progress(min(max(s.fraction, 0.0), 1.0), text=progress_text(s))
        c0, c1, _ = st.columns([1, 1, 2])
        stoppable = s.phase in ("starting", "training") and not s.stop_requested
        if c0.button("Stop and keep", icon=":material/stop:", key="stop_keep", disabled=not stoppable,
                     help="Stop after the current batch and keep the model as a version"):
            stop(runner, s.id, True, owner, operator)
        if c1.button("Stop and discard", icon=":material/delete:", key="stop_discard", disabled=not stoppable,
                     help="Stop now and throw the model away"):
            stop(runner, s.id, False, owner, operator)
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
