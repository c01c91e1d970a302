"""SPEC I6: closed conversations and their messages, notes and images are deleted by the beat
job once the shop's retention period has passed; open and recent ones stay (time-machine: the
clock moves, nothing sleeps)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.storage import default_storage
from PIL import Image

from apps.conversations import lifecycle, tasks
from apps.conversations.models import Attachment, Conversation, InternalNote, Message, State
from apps.shops.models import ShopSettings

from .conftest import serve

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)


def png() -> io.BytesIO:
    data = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(data, "PNG")
    data.seek(0)
    data.name = "photo.png"
    return data


def chat_with_an_image(kit, buyer: str) -> tuple[int, list[str]]:
    chat = serve(kit, buyer)
    chat.buyer_writes("hello")
    sent = chat.buyer.post(
        "/api/v1/widget/conversation/images/", {"image": png()}, format="multipart"
    )
    assert sent.status_code == 201, sent.content
    chat.agent_client.post(chat.url("notes/"), {"body": "a note"}, format="json")
    attachment = Attachment.objects.get(conversation_id=chat.id)
    return chat.id, [attachment.image.name, attachment.thumbnail.name]


def close(conversation_id: int) -> None:
    lifecycle.conversation_close(
        conversation=Conversation.objects.get(pk=conversation_id), actor=None
    )


@pytest.fixture(autouse=True)
def _media(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def purge(capture) -> int:
    """The beat job, its files deleted once its transactions commit."""
    with capture(execute=True):
        return int(tasks.retention_purge())


def test_old_closed_conversations_go_with_their_files_and_others_stay(
    shop_a, shop_b, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    ShopSettings.objects.filter(shop=shop_a.shop).update(retention_days=30)
    ShopSettings.objects.filter(shop=shop_b.shop).update(retention_days=0)  # kept for ever
    with time_machine.travel(T0, tick=False):
        old, old_files = chat_with_an_image(shop_a, "old")
        close(old)
        still_open, _files = chat_with_an_image(shop_a, "open")  # older still, but open
        forever, forever_files = chat_with_an_image(shop_b, "kept")
        close(forever)
    with time_machine.travel(T0 + timedelta(days=20), tick=False):
        recent, recent_files = chat_with_an_image(shop_a, "recent")
        close(recent)
    assert all(default_storage.exists(name) for name in old_files)

    # 31 days after the first closed: only it is past the shop's 30 days
    with time_machine.travel(T0 + timedelta(days=31), tick=False):
        assert purge(capture) == 1

    assert not Conversation.objects.filter(pk=old).exists()
    assert not Message.objects.filter(conversation_id=old).exists()
    assert not InternalNote.objects.filter(conversation_id=old).exists()
    assert not Attachment.objects.filter(conversation_id=old).exists()
    assert not any(default_storage.exists(name) for name in old_files)
    assert Conversation.objects.get(pk=still_open).state != State.CLOSED
    assert Conversation.objects.filter(pk=recent).exists()
    assert all(default_storage.exists(name) for name in recent_files)
    assert Conversation.objects.filter(pk=forever).exists()
    assert all(default_storage.exists(name) for name in forever_files)

    # a second run finds nothing more; 51 days on, the recent one goes too
    with time_machine.travel(T0 + timedelta(days=31), tick=False):
        assert purge(capture) == 0
    with time_machine.travel(T0 + timedelta(days=51), tick=False):
        assert purge(capture) == 1
    assert not Conversation.objects.filter(pk=recent).exists()
    assert Message.objects.filter(conversation_id=still_open).exists()


def test_the_retention_is_a_setting_between_0_and_3650_days(shop_a):
    client = shop_a.client()
    assert client.get("/api/v1/settings/").json()["retention_days"] == 365
    assert (
        client.patch("/api/v1/settings/", {"retention_days": 4000}, format="json").status_code
        == 400
    )
    answer = client.patch("/api/v1/settings/", {"retention_days": 0}, format="json")
    assert answer.status_code == 200 and answer.json()["retention_days"] == 0
    assert "sensitive_words_version" not in answer.json()
