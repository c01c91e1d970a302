"""Images in a conversation from both sides (SPEC I1): what is accepted, what is stored (pixels,
no metadata, a thumbnail), who receives the message and who may fetch the file."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image
from rest_framework.test import APIClient

from apps.accounts.models import Account
from apps.accounts.permissions import Perm
from apps.conversations.lifecycle import agent_set_status
from apps.conversations.models import Attachment, Conversation, Message
from apps.events.models import Event
from apps.routing.models import AgentStatus
from conftest import ShopKit
from tests.support.widget import widget_client

pytestmark = pytest.mark.django_db

CONVERSATION = "/api/v1/widget/conversation/"
WIDGET_IMAGES = "/api/v1/widget/conversation/images/"
WIDGET_MESSAGES = "/api/v1/widget/conversation/messages/"
# A Monday, 10:00 in Shanghai (the default shop time zone): inside the default business hours.
T0 = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)
MB = 1024 * 1024


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Iterator[Path]:
    settings.MEDIA_ROOT = tmp_path / "media"
    with time_machine.travel(T0, tick=True):
        yield settings.MEDIA_ROOT


def stored_files(media: Path) -> list[Path]:
    return sorted(p for p in media.rglob("*") if p.is_file()) if media.exists() else []


# ---------------------------------------------------------------------------------------------
# Images made here, with Pillow


def jpeg_with_exif(size: tuple[int, int] = (640, 480)) -> bytes:
    """A photo as a phone sends it: camera make, GPS position, rotated by its EXIF orientation."""
    image = Image.new("RGB", size, (200, 40, 40))
    image.paste((20, 20, 220), (0, 0, size[0] // 2, size[1] // 4))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretPhone"
    exif[ExifTags.Base.Model] = "Model X-Private"
    exif[ExifTags.Base.Orientation] = 6  # shown turned 90 degrees clockwise
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (31.0, 14.0, 0.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (121.0, 28.0, 0.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    data = out.getvalue()
    # the test image really carries them
    with Image.open(io.BytesIO(data)) as check:
        assert check.getexif()[ExifTags.Base.Make] == "SecretPhone"
        assert check.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return data


def image_bytes(fmt: str, size: tuple[int, int] = (500, 400), mode: str = "RGB") -> bytes:
    image = Image.new(mode, size, (10, 160, 90, 128)[: len(mode)])
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> Any:
    return SimpleUploadedFile(name, data, content_type=content_type)


# ---------------------------------------------------------------------------------------------
# A shop with an agent holding a buyer's conversation


@dataclass
class Chat:
    kit: ShopKit
    agent: Account
    buyer: APIClient
    conversation: Conversation

    @property
    def staff(self) -> APIClient:
        return self.kit.client(self.agent)

    @property
    def staff_images(self) -> str:
        return f"/api/v1/conversations/{self.conversation.pk}/images/"

    @property
    def staff_messages(self) -> str:
        return f"/api/v1/conversations/{self.conversation.pk}/messages/"


def start_chat(kit: ShopKit, buyer_id: str = "b-1", agent: Account | None = None) -> Chat:
    if agent is None:
        agent = kit.sub("agent1", {Perm.CHAT})
        agent_set_status(account=agent, status=AgentStatus.ONLINE)
    client = widget_client(kit.shop, buyer_id)
    response = client.post(CONVERSATION, {"human": True}, format="json")
    assert response.status_code == 200, response.content
    conversation = Conversation.objects.get(pk=response.json()["id"])
    assert conversation.state == "active" and conversation.agent_id == agent.pk
    return Chat(kit=kit, agent=agent, buyer=client, conversation=conversation)


@pytest.fixture
def chat(shop_a: ShopKit) -> Chat:
    return start_chat(shop_a)


def nothing_stored(chat: Chat, media: Path, messages_before: int) -> None:
    assert not Attachment.objects.exists()
    assert Message.objects.filter(conversation=chat.conversation).count() == messages_before
    assert stored_files(media) == []


# ---------------------------------------------------------------------------------------------
# Accepted, cleaned, delivered


def test_buyers_photo_reaches_the_agent_without_its_exif(chat: Chat, media: Path):
    # SPEC I1: given a phone photo with camera make, GPS position and an orientation
    photo = jpeg_with_exif((640, 480))
    # when the buyer sends it from the widget
    response = chat.buyer.post(WIDGET_IMAGES, {"image": upload(photo)}, format="multipart")
    # then it is an image message with its picture's figures, the orientation applied
    assert response.status_code == 201, response.content
    message = response.json()
    assert message["kind"] == "image" and message["sender"] == "buyer"
    assert message["recalled"] is False
    image = message["image"]
    assert (image["width"], image["height"]) == (480, 640)
    assert image["content_type"] == "image/jpeg"
    attachment = Attachment.objects.get(message_id=message["id"])
    assert image["size"] == attachment.size == default_storage.size(attachment.image.name)
    # and the stored file holds the pixels only: no EXIF at all, so no GPS and no make
    with default_storage.open(attachment.image.name) as f, Image.open(f) as stored:
        assert stored.format == "JPEG"
        assert stored.size == (480, 640)
        assert dict(stored.getexif()) == {}
        assert "exif" not in stored.info
    # and its thumbnail exists, smaller, within 320 pixels
    with default_storage.open(attachment.thumbnail.name) as f, Image.open(f) as thumb:
        assert max(thumb.size) == 320 and thumb.size[0] < 480
        assert dict(thumb.getexif()) == {}
    assert default_storage.size(attachment.thumbnail.name) < attachment.size
    # and the agent got message.created with the image, and sees it in the messages API
    created = Event.objects.get(
        type="message.created", recipient_kind="account", payload__id=message["id"]
    )
    assert created.recipient_id == chat.agent.pk and created.payload["image"] == image
    listed = chat.staff.get(chat.staff_messages).json()["results"]
    assert listed[-1] == {**message, "card": listed[-1].get("card")}
    # and fetches the file and the thumbnail, typed and never sniffed
    for url, name in ((image["url"], attachment.image.name), (image["thumbnail_url"], None)):
        got = chat.staff.get(url)
        assert got.status_code == 200
        assert got["Content-Type"] == "image/jpeg"
        assert got["X-Content-Type-Options"] == "nosniff"
        body = b"".join(got.streaming_content)
        if name:
            with default_storage.open(name) as f:
                assert body == f.read()
        assert b"SecretPhone" not in body and b"Model X-Private" not in body
    # and the buyer fetches it too
    assert chat.buyer.get(image["url"]).status_code == 200


@pytest.mark.parametrize(
    ("fmt", "mode", "content_type"),
    [("PNG", "RGBA", "image/png"), ("WEBP", "RGB", "image/webp"), ("JPEG", "RGB", "image/jpeg")],
)
def test_the_agent_sends_png_webp_and_jpeg(chat: Chat, fmt: str, mode: str, content_type: str):
    # SPEC I1: whatever the file is called, its content decides
    data = image_bytes(fmt, (900, 300), mode)
    response = chat.staff.post(
        chat.staff_images,
        {"image": upload(data, "picture.bin", "application/octet-stream"), "client_id": "i1"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    message = response.json()
    assert message["sender"] == "agent" and message["agent"] == chat.agent.pk
    assert message["image"]["content_type"] == content_type
    assert (message["image"]["width"], message["image"]["height"]) == (900, 300)
    attachment = Attachment.objects.get(message_id=message["id"])
    with default_storage.open(attachment.image.name) as f, Image.open(f) as stored:
        assert stored.format == fmt
    with default_storage.open(attachment.thumbnail.name) as f, Image.open(f) as thumb:
        assert thumb.size == (320, 107)
    # and the buyer got it as message.created, and reads it in the widget's messages
    assert Event.objects.filter(
        type="message.created", recipient_kind="buyer", payload__id=message["id"]
    ).exists()
    listed = chat.buyer.get(WIDGET_MESSAGES).json()["results"]
    assert listed[-1]["image"] == message["image"]
    # a resend with the same client_id answers the stored message and stores nothing more
    again = chat.staff.post(
        chat.staff_images, {"image": upload(data), "client_id": "i1"}, format="multipart"
    )
    assert again.status_code == 200 and again.json()["id"] == message["id"]
    assert Attachment.objects.count() == 1


# ---------------------------------------------------------------------------------------------
# Refused, nothing stored


def test_a_twelve_mb_image_is_refused_and_nothing_is_stored(chat: Chat, media: Path):
    # SPEC I1: given a real PNG of 12 MB (noise does not compress)
    noise = Image.frombytes("RGB", (2048, 2048), os.urandom(2048 * 2048 * 3))
    out = io.BytesIO()
    noise.save(out, "PNG", compress_level=0)
    big = out.getvalue()
    assert len(big) >= 12 * MB
    before = Message.objects.filter(conversation=chat.conversation).count()
    # when the buyer sends it
    response = chat.buyer.post(
        WIDGET_IMAGES, {"image": upload(big, "big.png", "image/png")}, format="multipart"
    )
    # then 400 on the image field, and nothing is stored
    assert response.status_code == 400, response.content
    assert response.json() == {"errors": {"image": ["An image is at most 10 MB."]}}
    nothing_stored(chat, media, before)


@pytest.mark.parametrize(
    "data",
    [
        b"just some text, not a picture\n" * 40,
        b"\xff\xd8\xff\xe0" + b"\x00" * 300,  # a JPEG's first bytes, then nothing
        b"GIF89a" + b"\x00" * 300,
    ],
    ids=["text", "truncated-jpeg", "gif"],
)
def test_a_file_that_is_not_an_accepted_image_is_refused(chat: Chat, media: Path, data: bytes):
    # SPEC I1: the name and the declared type say JPEG; the content does not
    before = Message.objects.filter(conversation=chat.conversation).count()
    response = chat.buyer.post(
        WIDGET_IMAGES, {"image": upload(data, "photo.jpg", "image/jpeg")}, format="multipart"
    )
    assert response.status_code == 400, response.content
    assert response.json() == {"errors": {"image": ["Send a JPEG, PNG or WebP image."]}}
    nothing_stored(chat, media, before)


def test_a_real_gif_is_refused(chat: Chat, media: Path):
    before = Message.objects.filter(conversation=chat.conversation).count()
    response = chat.staff.post(
        chat.staff_images, {"image": upload(image_bytes("GIF"), "a.gif")}, format="multipart"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["image"]
    nothing_stored(chat, media, before)


def test_an_image_of_too_many_pixels_is_refused_before_decoding(
    chat: Chat, media: Path, settings: Any
):
    # a decompression bomb: few bytes, many pixels (the limit lowered to keep the test small)
    settings.HELPDESK_IMAGE_MAX_PIXELS = 100_000
    data = image_bytes("PNG", (1000, 1000))
    assert len(data) < 20_000
    before = Message.objects.filter(conversation=chat.conversation).count()
    response = chat.buyer.post(
        WIDGET_IMAGES, {"image": upload(data, "bomb.png")}, format="multipart"
    )
    assert response.status_code == 400
    assert "too many pixels" in response.json()["errors"]["image"][0]
    nothing_stored(chat, media, before)


def test_an_oversized_request_is_refused_with_json_before_it_is_read(
    chat: Chat, media: Path, settings: Any
):
    settings.HELPDESK_UPLOAD_MAX_BODY_BYTES = 4096
    before = Message.objects.filter(conversation=chat.conversation).count()
    response = chat.buyer.post(
        WIDGET_IMAGES,
        {"image": upload(b"\x00" * 10_000, "big.jpg")},
        format="multipart",
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "The request is too large."}
    nothing_stored(chat, media, before)


def test_missing_or_text_field_image_is_a_field_error(chat: Chat, media: Path):
    for body in ({}, {"image": "not a file"}):
        response = chat.buyer.post(WIDGET_IMAGES, body, format="multipart")
        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["image"]
    assert not Attachment.objects.exists()


def test_an_agent_who_does_not_hold_the_conversation_cannot_send_images(chat: Chat, media: Path):
    # the main account sees every conversation but does not hold this one: 409, as for text
    before = Message.objects.filter(conversation=chat.conversation).count()
    response = chat.kit.client().post(
        chat.staff_images, {"image": upload(image_bytes("PNG"), "a.png")}, format="multipart"
    )
    assert response.status_code == 409
    nothing_stored(chat, media, before)


def test_a_buyer_without_an_open_conversation_cannot_send_images(shop_a: ShopKit, media: Path):
    client = widget_client(shop_a.shop, "lonely")
    response = client.post(WIDGET_IMAGES, {"image": upload(image_bytes("PNG"))}, format="multipart")
    assert response.status_code == 404
    assert not Attachment.objects.exists() and stored_files(media) == []


# ---------------------------------------------------------------------------------------------
# Tenant isolation and who may fetch a file


def test_another_shops_conversation_answers_404_and_stores_nothing(
    chat: Chat, shop_b: ShopKit, media: Path
):
    # SPEC A1: shop B's main account (and its own holding agent) post to shop A's conversation
    before = Message.objects.filter(conversation=chat.conversation).count()
    other_agent = shop_b.sub("agent-b", {Perm.CHAT})
    for client in (shop_b.client(), shop_b.client(other_agent)):
        response = client.post(
            chat.staff_images, {"image": upload(image_bytes("PNG"), "a.png")}, format="multipart"
        )
        assert response.status_code == 404
    nothing_stored(chat, media, before)


def test_a_file_is_only_for_who_may_see_the_conversation(
    chat: Chat, shop_a: ShopKit, shop_b: ShopKit
):
    # given the buyer's photo in its conversation with the agent
    sent = chat.buyer.post(WIDGET_IMAGES, {"image": upload(jpeg_with_exif())}, format="multipart")
    assert sent.status_code == 201
    image = sent.json()["image"]
    # and others: another buyer of the same shop, in its own chat with another agent
    second_agent = shop_a.sub("agent2", {Perm.CHAT})
    agent_set_status(account=chat.agent, status=AgentStatus.PAUSED)
    agent_set_status(account=second_agent, status=AgentStatus.ONLINE)
    other_buyer = start_chat(shop_a, "b-2", agent=second_agent)
    # and a buyer of shop B with the same external id, and shop B's main account
    b_agent = shop_b.sub("agent-b", {Perm.CHAT})
    agent_set_status(account=b_agent, status=AgentStatus.ONLINE)
    foreign_buyer = start_chat(shop_b, "b-1", agent=b_agent)
    # then each of them gets 404 for the file and the thumbnail, as for a missing one
    refused = {
        "another buyer": other_buyer.buyer,
        "an agent who never took part": other_buyer.staff,
        "another shop's buyer": foreign_buyer.buyer,
        "another shop's main account": shop_b.client(),
        "another shop's agent": foreign_buyer.staff,
    }
    for who, client in refused.items():
        for url in (image["url"], image["thumbnail_url"]):
            assert client.get(url).status_code == 404, who
    # and nobody signed in gets 401
    assert APIClient().get(image["url"]).status_code in (401, 403)
    # while the buyer, its agent and the main account (every conversation) get it
    for client in (chat.buyer, chat.staff, shop_a.client()):
        assert client.get(image["url"]).status_code == 200
    assert APIClient().get("/api/v1/attachments/999999999/").status_code in (401, 403)
    assert chat.staff.get("/api/v1/attachments/999999999/").status_code == 404


def test_the_files_are_never_public_under_media_url(chat: Chat):
    sent = chat.buyer.post(WIDGET_IMAGES, {"image": upload(jpeg_with_exif())}, format="multipart")
    attachment = Attachment.objects.get(message_id=sent.json()["id"])
    assert APIClient().get(f"/media/{attachment.image.name}").status_code == 404


def test_an_image_whose_file_was_lost_answers_404_with_a_message(chat: Chat, caplog: Any):
    # given the buyer's photo, whose stored files were then lost (a volume, a bucket cleaned)
    sent = chat.buyer.post(WIDGET_IMAGES, {"image": upload(jpeg_with_exif())}, format="multipart")
    assert sent.status_code == 201
    image = sent.json()["image"]
    attachment = Attachment.objects.get(message_id=sent.json()["id"])
    default_storage.delete(attachment.image.name)
    default_storage.delete(attachment.thumbnail.name)
    # then the agent and the buyer get a readable 404 for both, not a server error
    for client in (chat.staff, chat.buyer):
        for url in (image["url"], image["thumbnail_url"]):
            got = client.get(url)
            assert got.status_code == 404
            assert "no longer available" in got.json()["detail"]
    # and the operators are told which file is missing
    assert attachment.image.name in caplog.text
