"""What tests, benches and docs share to drive the real thing: a Streamlit server
(harness.server), Debian's Chromium and the page's selectors and waits (harness.browser),
and a Ray cluster of its own (harness.ray_cluster). Not product code: vae/ never imports it."""
