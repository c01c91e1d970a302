"""Images in a conversation (SPEC I1): checked, cleaned, stored, sent as a message.

An upload is accepted when Pillow reads it as JPEG, PNG or WebP (whatever its name or declared
type says), it is at most ``HELPDESK_IMAGE_MAX_BYTES`` and decodes to at most
``HELPDESK_IMAGE_MAX_PIXELS`` pixels (Pillow refuses a decompression bomb before decoding it).
Only its pixels are kept: the image is re-encoded in its own format with its EXIF orientation
applied, so EXIF (camera, GPS), XMP and comments are gone; the colour profile stays. A thumbnail
of at most ``THUMBNAIL_SIZE`` pixels a side goes beside it.

The files are written to the default storage (MEDIA_ROOT or the S3 bucket) under random names
before the transaction, and deleted again when the message is not stored. In the transaction the
attachment row comes first, then the message through the lifecycle's ``message_create`` (the
one writer of messages: ``seq``, clocks, ``message.created`` to both sides), then the link.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from apps.accounts.models import Account
from apps.conversations import lifecycle
from apps.conversations.models import (
    OPEN_STATES,
    Attachment,
    Conversation,
    Message,
    MessageKind,
    Sender,
    State,
)
from apps.conversations.payloads import storing_attachment
from apps.core.errors import Conflict, InvalidInput

FIELD = "image"
THUMBNAIL_SIZE = 320
# The text of an image message, for what shows only text (webhooks, notifications, old clients).
IMAGE_BODY = "[image]"


@dataclass(frozen=True)
class ImageFormat:
    content_type: str
    extension: str
    save_options: dict[str, object]


FORMATS: dict[str, ImageFormat] = {
    "JPEG": ImageFormat("image/jpeg", "jpg", {"quality": 90}),
    "PNG": ImageFormat("image/png", "png", {}),
    "WEBP": ImageFormat("image/webp", "webp", {"quality": 90}),
}
# The modes each format is written in; anything else is converted to the first.
MODES = {"JPEG": ("RGB", "L"), "PNG": ("RGBA", "RGB", "LA", "L"), "WEBP": ("RGBA", "RGB")}


@dataclass(frozen=True)
class CleanImage:
    """An upload's pixels, re-encoded without metadata, and its thumbnail."""

    format: ImageFormat
    data: bytes
    thumbnail: bytes
    width: int
    height: int


def _not_an_image() -> InvalidInput:
    return InvalidInput(_("Send a JPEG, PNG or WebP image."), field=FIELD)


def _encode(image: Image.Image, fmt: str, icc_profile: bytes | None) -> bytes:
    if image.mode not in MODES[fmt]:
        has_alpha = "A" in image.getbands() or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha and "RGBA" in MODES[fmt] else "RGB")
        icc_profile = None  # the profile described the old mode's values (CMYK, palette)
    options = dict(FORMATS[fmt].save_options)
    if icc_profile:
        options["icc_profile"] = icc_profile
    buffer = io.BytesIO()
    # Nothing of the source's info goes along: only what is passed here is written.
    image.info = {}
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def image_clean(*, upload: IO[bytes], size: int) -> CleanImage:
    """Check an upload and re-encode it (SPEC I1); ``InvalidInput`` on the ``image`` field when
    it is too large, not an accepted image, or would decode to too many pixels."""
    limit = settings.HELPDESK_IMAGE_MAX_BYTES
    if size > limit:
        raise InvalidInput(
            _("An image is at most %(mb)s MB.") % {"mb": f"{limit / (1024 * 1024):g}"},
            field=FIELD,
        )
    too_many_pixels = InvalidInput(
        _("This image has too many pixels (at most %(n)s million).")
        % {"n": f"{settings.HELPDESK_IMAGE_MAX_PIXELS / 1_000_000:g}"},
        field=FIELD,
    )
    try:
        upload.seek(0)
        # Pillow's own guard (Image.MAX_IMAGE_PIXELS, process-wide, left as it is) raises above
        # twice its limit; ours is the setting, checked from the header before any decoding.
        with Image.open(upload, formats=list(FORMATS)) as probe:
            fmt = probe.format or ""
            if probe.width * probe.height > settings.HELPDESK_IMAGE_MAX_PIXELS:
                raise too_many_pixels
            probe.verify()  # the whole file is read: a truncated or corrupt one fails here
        upload.seek(0)
        with Image.open(upload, formats=[fmt]) as source:
            source.load()
            icc_profile = source.info.get("icc_profile")
            upright = ImageOps.exif_transpose(source)  # a copy, orientation applied
    except InvalidInput:
        raise
    except Image.DecompressionBombError:
        raise too_many_pixels from None
    except Exception:  # whatever a malformed file makes a decoder raise: not an image we take
        raise _not_an_image() from None
    if fmt not in FORMATS:
        raise _not_an_image()
    thumbnail = upright.copy()
    thumbnail.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    return CleanImage(
        format=FORMATS[fmt],
        data=_encode(upright, fmt, icc_profile),
        thumbnail=_encode(thumbnail, fmt, icc_profile),
        width=upright.width,
        height=upright.height,
    )


def _store_files(shop_id: int, image: CleanImage) -> tuple[str, str]:
    """Both files under one random name (never guessed from another: the URLs are the view's
    anyway), the storage's own name returned for each."""
    stem = f"attachments/{shop_id}/{uuid.uuid4().hex}"
    ext = image.format.extension
    name = default_storage.save(f"{stem}.{ext}", ContentFile(image.data))
    try:
        thumbnail = default_storage.save(f"{stem}-thumb.{ext}", ContentFile(image.thumbnail))
    except BaseException:
        default_storage.delete(name)
        raise
    return name, thumbnail


def _delete_files(*names: str) -> None:
    for name in names:
        default_storage.delete(name)


def _resent(conversation: Conversation, sender: Sender, client_id: str) -> Message | None:
    if not client_id:
        return None
    return (
        Message.objects.filter(conversation=conversation, sender=sender, client_id=client_id)
        .select_related("attachment")
        .first()
    )


def _check_may_send(conv: Conversation, sender: Sender, agent: Account | None) -> None:
    """Under the conversation's lock: the agent holds it; the buyer's is still open."""
    if sender == Sender.AGENT:
        if agent is None or conv.state != State.ACTIVE or conv.agent_id != agent.pk:
            raise Conflict(_("You do not hold this conversation."))
    elif conv.state not in OPEN_STATES:
        raise Conflict(_("This conversation has ended."))


def image_message_send(
    *,
    conversation: Conversation,
    sender: Sender,
    upload: IO[bytes],
    size: int,
    agent: Account | None = None,
    client_id: str = "",
) -> tuple[Message, bool]:
    """Send an image into ``conversation`` as its buyer or its holding agent (SPEC I1): an
    ``image`` message that both sides receive as ``message.created``. Idempotent on
    ``client_id`` per conversation and sender, like text: a repeat returns the stored message
    and ``False``, and stores nothing."""
    assert sender in (Sender.BUYER, Sender.AGENT)
    existing = _resent(conversation, sender, client_id)
    if existing is not None:
        return existing, False
    if sender == Sender.AGENT:  # refuse before the work, again under the lock
        _check_may_send(conversation, sender, agent)
    image = image_clean(upload=upload, size=size)
    names = _store_files(conversation.shop_id, image)
    try:
        with transaction.atomic():
            # The conversation's lock first: the attachment's row would otherwise take a share
            # lock on it that two uploads could each hold while waiting for the other's.
            conv = Conversation.objects.select_for_update(of=("self",)).get(pk=conversation.pk)
            _check_may_send(conv, sender, agent)
            attachment = Attachment.objects.create(
                shop_id=conv.shop_id,
                conversation=conv,
                sender=sender,
                image=names[0],
                thumbnail=names[1],
                content_type=image.format.content_type,
                size=len(image.data),
                width=image.width,
                height=image.height,
            )
            with storing_attachment(attachment):
                message, created = lifecycle.message_create(
                    conversation=conv,
                    sender=sender,
                    body=IMAGE_BODY,
                    agent=agent,
                    client_id=client_id,
                    kind=MessageKind.IMAGE,
                )
            if created:
                attachment.message = message
                attachment.save(update_fields=["message"])
            else:  # a concurrent resend stored it first
                attachment.delete()
    except BaseException:
        _delete_files(*names)
        raise
    if not created:
        _delete_files(*names)
    return message, created
