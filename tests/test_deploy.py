"""deploy/: the shipped nginx site is what deploy/nginx.py makes, and Debian's nginx accepts it.
(tests/e2e/test_replicas_browser.py runs it in front of two replicas.)"""
from deploy import nginx

from conftest import free_port


def test_the_shipped_site_is_the_rendered_one():
    """Regenerate with: python -m deploy.nginx > deploy/vae-explorer.conf"""
    assert nginx.SHIPPED.read_text() == nginx.render_site()


def test_the_site_names_every_replica_upgrades_the_websocket_and_skips_failed_replicas():
    site = nginx.render_site(["10.0.0.1:8501", "10.0.0.2:8501", "10.0.0.3:8501"], "8080", "/tmp/x.log")
    for replica in ("10.0.0.1:8501", "10.0.0.2:8501", "10.0.0.3:8501"):
        assert f"server {replica} max_fails=1 fail_timeout=10s;" in site
    assert "hash $vae_route consistent;" in site and "listen 8080;" in site
    stream = site[site.index("location /_stcore/stream"):]
    assert "proxy_set_header Upgrade $http_upgrade;" in stream and "proxy_set_header Connection $vae_connection;" in stream


def test_debians_nginx_accepts_the_site(tmp_path):
    said = nginx.Nginx(tmp_path, nginx.DEFAULT_REPLICAS, free_port(), nginx.nginx_binary(install=True)).check()
    assert "syntax is ok" in said and "test is successful" in said
