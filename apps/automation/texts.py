"""The texts of every automatic message (SPEC D1-D6), in the shop's ``language``.

A shop's own text (the ``*_text`` settings) wins when it is not empty; otherwise the default
below, translated (zh-hans in ``locale/zh_Hans``). Messages without a setting in API.md (the
rating request, the notices of D6) always use the default. A shop's buyer-close text may say
``{minutes}``: it becomes the silence timeout in whole minutes (rounded up).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

if TYPE_CHECKING:
    from apps.routing.queue import QueueFigures
    from apps.shops.models import ShopSettings


def _own(text: str) -> str:
    return text.strip()


def duration(seconds: int) -> str:
    """``5 minutes`` / ``90 seconds`` in the active language."""
    if seconds and seconds % 60 == 0:
        n = seconds // 60
        return ngettext("%(n)d minute", "%(n)d minutes", n) % {"n": n}
    return ngettext("%(n)d second", "%(n)d seconds", seconds) % {"n": seconds}


def welcome(settings: ShopSettings) -> str:
    """D1, sent in the agent's name."""
    with translation.override(settings.language):
        return _own(settings.welcome_text) or _("Hello, glad to help you! What can I do for you?")


def offhours(settings: ShopSettings) -> str:
    """D2."""
    with translation.override(settings.language):
        return _own(settings.offhours_text) or _(
            "Hello, we are outside our business hours and no agent is online now. Leave us a "
            "message and we will answer as soon as we are back."
        )


def paused(settings: ShopSettings) -> str:
    """Seed 001 (挂起): the buyer's agent paused; sent to each buyer it holds."""
    with translation.override(settings.language):
        return _own(settings.paused_text) or _(
            "Your agent has stepped away for a moment and will answer you as soon as they are "
            "back. Your messages are kept."
        )


def queueing(settings: ShopSettings, figures: QueueFigures | None) -> str:
    """D3: the shop's text (or the default) and a line with the position and the estimate (C5),
    or "many buyers are waiting" when the figures are hidden."""
    with translation.override(settings.language):
        intro = _own(settings.queueing_text) or _(
            "All our agents are busy at the moment; you are in the queue."
        )
        if figures is None or figures.hidden or figures.eta_seconds is None:
            line = _("Many buyers are waiting; an agent will be with you as soon as possible.")
        else:
            wait = max(1, math.ceil(figures.eta_seconds / 60))
            line = ngettext(
                "You are number %(position)d in the queue; the wait is about %(minutes)d minute.",
                "You are number %(position)d in the queue; the wait is about %(minutes)d minutes.",
                wait,
            ) % {"position": figures.position, "minutes": wait}
        return f"{intro}\n{line}"


def rating_request(settings: ShopSettings) -> str:
    """D4."""
    with translation.override(settings.language):
        return _("How did we do? Please rate this conversation from 1 to 5 stars.")


def buyer_warning(settings: ShopSettings) -> str:
    """D5, the warning before the close (default text of seed 003)."""
    with translation.override(settings.language):
        return _own(settings.buyer_warning_text) or _(
            "Hello, we have not heard from you for a while, so this conversation will end soon. "
            "If you still need help, just reply."
        )


def buyer_close(settings: ShopSettings) -> str:
    """D5, the closing notice: why it ended (N minutes of silence) and how to come back."""
    seconds = settings.buyer_silence_seconds
    own = _own(settings.buyer_close_text)
    if own:
        return own.replace("{minutes}", str(math.ceil(seconds / 60)))
    with translation.override(settings.language):
        return _(
            "This conversation has ended because you sent no message for %(duration)s. If you "
            "still need help, write here to ask the service assistant, or tap “Human agent” to "
            "reach an agent."
        ) % {"duration": duration(seconds)}


def agent_warning(settings: ShopSettings) -> str:
    """D6, the warning to the agent (an event, never a conversation message)."""
    with translation.override(settings.language):
        if _own(settings.agent_warning_text):
            return _own(settings.agent_warning_text)
        if settings.agent_silence_action == "reassign":
            return _(
                "You have not answered this buyer for a long time; the conversation will soon "
                "be handed to another agent."
            )
        return _(
            "You have not answered this buyer for a long time; the system will soon end the "
            "conversation."
        )


def agent_silence_closed(settings: ShopSettings) -> str:
    """D6 `close`: what the buyer reads."""
    with translation.override(settings.language):
        return _(
            "Sorry, no agent could answer you in time and this conversation has ended. Write "
            "here or tap “Human agent” to ask again."
        )


def reassigned(settings: ShopSettings) -> str:
    """D6 `reassign`, when another agent took the conversation."""
    with translation.override(settings.language):
        return _("Another agent will continue this conversation with you.")


def kept_as_message(settings: ShopSettings) -> str:
    """D6 `reassign`, when nobody else could take it and it waits as an offline message (B11)."""
    with translation.override(settings.language):
        return _("Your messages are kept; an agent will answer you as soon as possible.")
