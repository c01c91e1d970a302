"""Health endpoints for load balancers (SPEC I7)."""

from __future__ import annotations


def test_healthz_answers_while_the_process_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_the_database_and_redis(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_load_balancer_probing_by_ip_over_plain_http_gets_an_answer(client, db, settings):
    # given production-like settings: strict hosts and an HTTPS redirect
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    # when the balancer probes by IP over plain HTTP
    health = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")
    ready = client.get("/readyz", HTTP_HOST="10.0.0.7:8000")
    # then both answer, while any other page still refuses that host
    assert (health.status_code, ready.status_code) == (200, 200)
    assert client.get("/login/", HTTP_HOST="10.0.0.7:8000").status_code == 400


def test_api_docs_load_swagger_ui_from_our_own_static_files(client):
    page = client.get("/api/docs/").content.decode()
    assert "cdn" not in page.lower() and "/static/drf_spectacular_sidecar/" in page
