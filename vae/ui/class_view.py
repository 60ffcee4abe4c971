"""The Gallery's view for the teacher (the operator): everyone's jobs of this session in a table
of who trained what and how it scored, and the latent maps of the versions they made as a grid."""
import streamlit as st

from vae.explorer.class_view import class_rows, table_rows

MAPS_PER_ROW = 6


def render(cards, latent_map, statuses, jobs_error=None):
    """`cards`: the gallery's Cards by name; `latent_map(card)`: that card's map thumbnail (PNG);
    `statuses`: the job runner's, as the gallery read them (`jobs_error`: why it could not)."""
    st.markdown("## The class: this session's jobs")
    if jobs_error is not None:
        st.warning(f"The job runner could not be asked: {jobs_error}", icon=":material/cloud_off:")
        return
    rows = class_rows(statuses, set(cards))
    if not rows:
        st.markdown("No one has trained in this session yet: the jobs started on the Train tab show here.")
        return
    st.table(table_rows(rows), hide_index=True, border="horizontal")
    made = list({r.version: r for r in rows if r.has_version and not cards[r.version].damage}.values())
    for start in range(0, len(made), MAPS_PER_ROW):
        for row, column in zip(made[start:start + MAPS_PER_ROW], st.columns(MAPS_PER_ROW)):
            score = "" if row.neg_elbo is None else f", −ELBO {row.neg_elbo:.1f}"
            column.image(latent_map(cards[row.version]), width="stretch", caption=f"{row.who}: {row.version}{score}",
                         alt=f"Latent map of {row.version}, trained by {row.who}{score}")
