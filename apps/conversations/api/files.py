"""The files of image messages (SPEC I1), served only to who may see their conversation.

Nothing under MEDIA_ROOT (or the bucket) is public: ``GET /api/v1/attachments/{id}/`` and
``.../thumbnail/`` answer the file to the buyer of the conversation (``Authorization: Buyer``)
and to staff who may see it (token or session, SPEC E6), and 404 to everybody else, another
shop's staff included (one answer for missing and hidden). A recalled image is gone for all;
an image whose file was lost from storage answers 404 too, with its own message (and an error
in the log), never a 500.
The type is the one the upload was checked as, never guessed by the browser (``nosniff``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.files.storage import default_storage
from django.http import FileResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.accounts.authentication import StaffTokenAuthentication
from apps.accounts.models import Account
from apps.conversations.api.widget import BuyerTokenAuthentication
from apps.conversations.buyers import BuyerPrincipal
from apps.conversations.models import Attachment
from apps.conversations.selectors import conversation_get
from apps.core.errors import NotFound

logger = logging.getLogger(__name__)


class _AnyAccept(BaseContentNegotiation):
    """An ``<img>`` asks for ``image/*``: the file answers whatever the Accept header says, and
    errors are JSON."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: Any, format_suffix: Any = None) -> Any:
        return (renderers[0], renderers[0].media_type)


class _IsBuyerOrStaff(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if isinstance(user, BuyerPrincipal):
            return True
        return isinstance(user, Account) and user.is_authenticated and user.is_active


def attachment_for_viewer(viewer: BuyerPrincipal | Account, attachment_id: int) -> Attachment:
    """The attachment if ``viewer`` may see its conversation and its message stands."""
    attachment = (
        Attachment.objects.filter(
            shop_id=viewer.shop_id,
            pk=attachment_id,
            message__isnull=False,
            message__recalled_at__isnull=True,
        )
        .select_related("conversation")
        .first()
    )
    if attachment is None:
        raise NotFound(_("No such image."))
    if isinstance(viewer, BuyerPrincipal):
        if attachment.conversation.buyer_id != viewer.buyer.pk:
            raise NotFound(_("No such image."))
    else:
        conversation_get(account=viewer, conversation_id=attachment.conversation_id)
    return attachment


class AttachmentFileView(APIView):
    """An image message's file (``thumbnail = False``) or its thumbnail."""

    authentication_classes = [
        BuyerTokenAuthentication,
        StaffTokenAuthentication,
        SessionAuthentication,
    ]
    permission_classes = [_IsBuyerOrStaff]
    content_negotiation_class = _AnyAccept
    renderer_classes = [JSONRenderer]  # for errors; the file itself is a FileResponse
    tenant_model = Attachment
    thumbnail = False

    @extend_schema(
        responses={(200, "image/*"): OpenApiTypes.BINARY},
        description="SPEC I1: the image (or its thumbnail), for the conversation's buyer and "
        "staff who may see the conversation; 404 for anyone else.",
    )
    def get(self, request: Request, pk: int) -> FileResponse:
        viewer: BuyerPrincipal | Account = request.user  # type: ignore[assignment]
        attachment = attachment_for_viewer(viewer, pk)
        stored = attachment.thumbnail if self.thumbnail else attachment.image
        try:
            file = default_storage.open(stored.name, "rb")
        except FileNotFoundError:  # local storage and django-storages' S3 alike
            # The row stands but its file is gone (a lost volume, a bucket cleaned by hand):
            # the viewer gets a readable 404, the operators a log line, never a 500.
            logger.error("attachment %s: file %s missing from storage", attachment.pk, stored.name)
            raise NotFound(_("This image is no longer available.")) from None
        response = FileResponse(file, content_type=attachment.content_type)
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Disposition"] = "inline"
        # Only the viewer's browser may keep it (never a shared cache): access is per person.
        response["Cache-Control"] = "private, max-age=3600"
        response["Vary"] = "Authorization, Cookie"
        return response
