"""The integrations page (SPEC H2, H4; issue 12): a key is made and shown once with a copy
button, listed by its prefix and revoked; a webhook is made with its secret shown once, its
address checked as the API checks it, switched off and on, deleted, and its delivery log read.
The main account or manage_settings only."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.permissions import Perm
from apps.integrations.models import ApiKey, Webhook, WebhookAttempt, WebhookDelivery
from tests.support.web import signed_in

pytestmark = pytest.mark.django_db

PAGE = "/admin/integrations/"
PUBLIC = "https://93.184.215.14/hook"


def test_a_key_is_shown_once_with_a_copy_button_then_listed_by_its_prefix(shop_a):
    client = signed_in(shop_a.main)
    made = client.post(PAGE, {"name": "ERP"})
    assert made.status_code == 200 and made["Cache-Control"] == "no-store"
    html = made.content.decode()
    key = ApiKey.objects.get()
    start = html.index('id="new-key"')
    shown = html[html.index(">", start) + 1 : html.index("</code>", start)]
    assert shown.startswith(key.prefix) and len(shown) == 46
    assert 'data-copy="new-key"' in html and "js/integrations.js" in html
    # the key works, and the page never shows it again
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {shown}")
    assert api.put("/api/v1/buyers/b-1/", {"name": "x"}, format="json").status_code == 201
    again = client.get(PAGE).content.decode()
    assert shown not in again and f"{key.prefix}…" in again
    # revoked from the page: 401 at once
    revoke = client.post(reverse("web:admin-integration-key-revoke", args=[key.pk]))
    assert revoke.status_code == 302
    assert api.put("/api/v1/buyers/b-1/", {"name": "y"}, format="json").status_code == 401


def test_a_webhook_is_made_with_its_secret_shown_once(shop_a):
    client = signed_in(shop_a.main)
    made = client.post(PAGE, {"url": PUBLIC, "events": ["message.created", "conversation.closed"]})
    assert made.status_code == 200
    webhook = Webhook.objects.get()
    assert webhook.events == ["conversation.closed", "message.created"]
    assert webhook.secret in made.content.decode()
    assert webhook.secret not in client.get(PAGE).content.decode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"url": "http://127.0.0.1/hook", "events": ["message.created"]}, "public addresses"),
        ({"url": "ftp://93.184.215.14/", "events": ["message.created"]}, "http and https"),
        ({"url": PUBLIC}, "This field is required"),
    ],
)
def test_a_refused_webhook_is_shown_next_to_its_field(shop_a, body, message):
    page = signed_in(shop_a.main).post(PAGE, body)
    assert page.status_code == 200
    assert message in page.content.decode()
    assert not Webhook.objects.exists()


def test_a_switched_off_webhook_shows_why_and_is_switched_on_again(shop_a):
    client = signed_in(shop_a.main)
    client.post(PAGE, {"url": PUBLIC, "events": ["message.created"]})
    webhook = Webhook.objects.get()
    Webhook.objects.filter(pk=webhook.pk).update(
        is_active=False, disabled_reason="Switched off: the last 8 events could not be delivered"
    )
    html = client.get(PAGE).content.decode()
    assert f'data-webhook-off="{webhook.pk}"' in html
    assert "the last 8 events could not be delivered" in html
    action = reverse("web:admin-integration-webhook-action", args=[webhook.pk])
    assert client.post(action, {"action": "enable"}).status_code == 302
    webhook.refresh_from_db()
    assert webhook.is_active and webhook.disabled_reason == ""
    assert client.post(action, {"action": "delete"}).status_code == 302
    assert not Webhook.objects.exists()


def test_the_delivery_log_lists_the_attempts(shop_a):
    client = signed_in(shop_a.main)
    client.post(PAGE, {"url": PUBLIC, "events": ["conversation.closed"]})
    webhook = Webhook.objects.get()
    delivery = WebhookDelivery.objects.create(
        shop=shop_a.shop,
        webhook=webhook,
        event_id="2cd45619-438c-465b-9e8d-122d5470977f",
        type="conversation.closed",
        body="{}",
        created_at=timezone.now(),
        next_attempt_at=timezone.now(),
    )
    WebhookAttempt.objects.create(
        shop=shop_a.shop,
        delivery=delivery,
        webhook=webhook,
        number=1,
        status_code=500,
        error="HTTP 500",
        created_at=timezone.now(),
    )
    page = client.get(reverse("web:admin-integration-webhook", args=[webhook.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "2cd45619-438c-465b-9e8d-122d5470977f" in html and "HTTP 500" in html
    assert "1 delivery waiting for a retry" in html


def test_the_page_needs_manage_settings_and_another_shops_objects_are_404(shop_a, shop_b):
    agent = signed_in(shop_a.sub("agent", {Perm.CHAT, Perm.MANAGE_ROUTING}))
    assert agent.get(PAGE).status_code == 403
    assert agent.post(PAGE, {"name": "x"}).status_code == 403
    assert not ApiKey.objects.exists()
    manager = signed_in(shop_a.sub("manager", {Perm.MANAGE_SETTINGS}))
    assert manager.get(PAGE).status_code == 200
    signed_in(shop_b.main).post(PAGE, {"name": "B's key"})
    signed_in(shop_b.main).post(PAGE, {"url": PUBLIC, "events": ["message.created"]})
    theirs_key, theirs_hook = ApiKey.objects.get(), Webhook.objects.get()
    assert "B&#x27;s key" not in manager.get(PAGE).content.decode()
    revoke = reverse("web:admin-integration-key-revoke", args=[theirs_key.pk])
    assert manager.post(revoke).status_code == 404
    action = reverse("web:admin-integration-webhook-action", args=[theirs_hook.pk])
    assert manager.post(action, {"action": "delete"}).status_code == 404
    log = reverse("web:admin-integration-webhook", args=[theirs_hook.pk])
    assert manager.get(log).status_code == 404
    assert ApiKey.objects.count() == 1 and Webhook.objects.count() == 1
