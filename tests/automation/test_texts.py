"""Every automatic text has an English and a Chinese default, and a shop's own text wins
(SPEC D, the paragraph after D7)."""

from __future__ import annotations

import pytest

from apps.automation import texts
from apps.conversations.selectors import QueueFigures
from apps.shops.models import ShopSettings

DEFAULTS = {
    "welcome": texts.welcome,
    "offhours": texts.offhours,
    "queueing": lambda s: texts.queueing(s, QueueFigures(2, 1200, False)),
    "queueing hidden": lambda s: texts.queueing(s, QueueFigures(51, 600, True)),
    "rating": texts.rating_request,
    "buyer warning": texts.buyer_warning,
    "buyer close": texts.buyer_close,
    "agent warning": texts.agent_warning,
    "agent silence closed": texts.agent_silence_closed,
    "reassigned": texts.reassigned,
    "kept": texts.kept_as_message,
}


def han(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@pytest.mark.parametrize("name", DEFAULTS)
def test_each_default_text_exists_in_english_and_in_chinese(name):
    english = DEFAULTS[name](ShopSettings(language="en"))
    chinese = DEFAULTS[name](ShopSettings(language="zh-hans"))
    assert english.strip() and not han(english)
    assert han(chinese), f"{name} has no zh-hans translation: {chinese}"


def test_a_shops_own_texts_win_and_empty_means_the_default():
    own = ShopSettings(
        language="en",
        welcome_text="  Hi from our shop!  ",
        offhours_text="Closed, back at 8.",
        queueing_text="Hang on.",
        buyer_warning_text="Still there?",
        buyer_close_text="Ended after {minutes} min.",
        agent_warning_text="Answer now!",
    )
    assert texts.welcome(own) == "Hi from our shop!"
    assert texts.offhours(own) == "Closed, back at 8."
    assert texts.queueing(own, QueueFigures(1, 60, False)).startswith("Hang on.\n")
    assert texts.buyer_warning(own) == "Still there?"
    assert texts.buyer_close(own) == "Ended after 5 min."
    assert texts.agent_warning(own) == "Answer now!"
    assert texts.welcome(ShopSettings(language="en", welcome_text="   ")) == texts.welcome(
        ShopSettings(language="en")
    )


def test_agent_warning_names_the_shops_action():
    close = texts.agent_warning(ShopSettings(language="en", agent_silence_action="close"))
    reassign = texts.agent_warning(ShopSettings(language="en", agent_silence_action="reassign"))
    assert "end" in close and "another agent" in reassign
