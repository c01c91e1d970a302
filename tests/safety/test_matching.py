"""SPEC I6: the pure parts, the sensitive-word matching and the masking of phone numbers and
addresses (docs/safety.md)."""

from __future__ import annotations

import random
import time

import pytest

from apps.safety import pii
from apps.safety.words import SensitiveWordRefused, compile_words


def test_a_masked_word_becomes_as_many_asterisks_whatever_its_case():
    words = compile_words([("WeChat", "mask"), ("微信", "mask")])
    assert words.screen("add my wechat or WECHAT, 加微信") == "add my ****** or ******, 加**"


def test_the_longest_and_every_overlapping_word_is_masked():
    words = compile_words([("abc", "mask"), ("abcdef", "mask"), ("def", "mask"), ("fg", "mask")])
    assert words.screen("xabcdefgx") == "x*******x"
    assert words.screen("abcab") == "***ab"


def test_a_blocked_word_refuses_the_text_and_names_it():
    words = compile_words([("qq群", "block"), ("spam", "mask")])
    with pytest.raises(SensitiveWordRefused) as refused:
        words.screen("spam, join our QQ群 now")
    assert refused.value.field == "body"
    assert "QQ群" in refused.value.message
    assert refused.value.code == "sensitive_word"


def test_words_with_regex_characters_are_plain_text():
    words = compile_words([("a.b", "mask"), ("(x)", "mask"), ("*", "mask")])
    assert words.screen("a.b axb (x) x") == "*** axb *** x"


def test_a_few_hundred_words_screen_a_long_message_quickly():
    # 500 words of three characters, each starting differently (the slow case for a regex)
    common = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    made = random.Random(1)
    words = {"".join(made.choice(common) for _ in range(3)) for _ in range(500)}
    screen = compile_words([(w, "mask" if n % 2 else "block") for n, w in enumerate(words)])
    text = "".join(made.choice(common) for _ in range(5000))  # the longest message
    text = screen.screen(text)  # (masked where random text made a word)
    started = time.perf_counter()
    for _ in range(20):
        assert screen.screen(text) == text
    assert (time.perf_counter() - started) / 20 < 0.05  # a loose bound: about 1 ms here


@pytest.mark.parametrize(
    "text, masked",
    [
        ("我的手机13812345678", "我的手机138****5678"),
        ("电话 138 1234 5678 谢谢", "电话 138****5678 谢谢"),
        ("+86 138-1234-5678", "+86 138****5678"),
        ("座机 0571-8888 1234", "座机 057*-**** 1234"),
        ("call +1 (415) 555-0100", "call +1 (41*) ***-0100"),
        (
            "寄到浙江省杭州市西湖区文三路123号4幢501室，谢谢",
            "寄到浙江省杭州市西湖区*************，谢谢",
        ),
        ("I live at 221 Baker Street, London", "I live at ****************, London"),
    ],
)
def test_phone_numbers_and_addresses_are_masked(text: str, masked: str):
    assert pii.mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "订单 202506021234567890",  # an order number: too long for a phone
        "日期 2025-06-02",
        "金额 1234567",  # no separator: an amount or an id
        "第 3 件 12 元",
        "",
    ],
)
def test_what_is_not_a_phone_number_stays(text: str):
    assert pii.mask_text(text) == text


def test_an_address_field_keeps_its_region_only():
    assert (
        pii.mask_address_field("浙江省杭州市西湖区文三路 100 号") == "浙江省杭州市西湖区*** *** *"
    )
    assert pii.mask_address_field("221 Baker Street") == "*** ***** ******"
