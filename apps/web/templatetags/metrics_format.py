"""Filters of the board and metrics pages: a rate as a percentage, seconds as a duration."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def percent(rate: float | None) -> str:
    """0.8125 -> "81.3 %"; None -> "—" (nothing to rate)."""
    if rate is None:
        return "—"
    return f"{rate * 100:.1f} %"


@register.filter
def duration(seconds: float | None) -> str:
    """95 -> "1:35"; 3725 -> "1:02:05"; None -> "—"."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@register.filter
def verdict(met: bool | None) -> str:
    """A target's verdict in words."""
    if met is None:
        return "—"
    return _("Met") if met else _("Not met")


@register.filter
def hours(seconds: int | None) -> str:
    """5400 -> "1.5" (hours, one decimal)."""
    return f"{(seconds or 0) / 3600:.1f}"
