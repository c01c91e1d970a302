"""Masking buyers' phone numbers and addresses for staff without ``view_buyer_info`` (SPEC I6;
docs/safety.md). Pure text functions: what is stored stays intact, these shape what is
delivered to an account that may not see it.

What counts (heuristics, documented in docs/safety.md):

* a Chinese mobile number, ``1[3-9]`` and nine more digits, alone or as ``138 0013 8000`` /
  ``138-0013-8000``, with or without ``+86``: shown as ``138****8000``;
* any other phone-like run of 7 to 13 digits written with separators (spaces, ``-``, ``.``,
  brackets, a leading ``+``): ``0571-8888 1234``, ``+1 (415) 555-0100``; the middle digits
  become ``*`` (the first three and the last four kept when there are at least eleven, else the
  first two and the last two). Dates (``2025-06-02``) and runs of more than 13 digits (order
  numbers) are left alone, and so are plain runs without a separator (amounts, ids);
* a Chinese street address: from a street word (路, 街, 道, 巷, 弄, 村...) after the
  administrative part (省, 市, 区, 县...) up to a house number (号, 栋, 室, 楼...): the
  administrative part stays, the rest is starred (``浙江省杭州市西湖区*********``); an English one
  (``221 Baker Street``) is starred whole.

An address field (an after-sales return address) is masked whole but its administrative
prefix (``mask_address_field``).
"""

from __future__ import annotations

import re

MASK = "*"

# A Chinese mobile number (with +86 or 86, and spaces or dashes as people write them).
_CN_MOBILE = re.compile(
    r"(?<![0-9A-Za-z])(?:\+?86[\s\-]?)?1[3-9][0-9](?:[\s\-]?[0-9]{4}){2}(?![0-9A-Za-z])"
)
# A phone-like run: digits in groups with separators between them.
_PHONE = re.compile(
    r"(?<![0-9A-Za-z+])\+?\(?[0-9]{1,4}\)?(?:[\s.\-]{1,2}\(?[0-9]{2,5}\)?){1,4}(?![0-9A-Za-z])"
)
_DATE = re.compile(r"^[0-9]{4}[\-./][0-9]{1,2}[\-./][0-9]{1,2}$")
PHONE_DIGITS = (7, 13)  # a run of digits outside this is not a phone number

_CJK = "\u4e00-\u9fff"
_REGION_END = "省市区县旗"
_STREET = "(?:路|街|大道|道|巷|弄|胡同|村|里|小区|花园|大厦|广场|苑)"
_HOUSE = "(?:号楼|号院|号|栋|幢|座|单元|楼|层|室|户)"
_PART = f"[{_CJK}0-9A-Za-z\\-#－]"
# The detail of a Chinese address: after the last region word, a street, then a number.
_CN_ADDRESS = re.compile(
    rf"(?<=[{_REGION_END}])"
    rf"(?:(?![{_REGION_END}]){_PART}){{1,20}}?{_STREET}"
    rf"{_PART}{{0,20}}?[0-9０-９一二三四五六七八九十百]+{_HOUSE}"
    rf"(?:[0-9A-Za-z\-#－]*[0-9]+{_HOUSE})*"
)
_EN_ADDRESS = re.compile(
    r"\b[0-9]{1,5}\s+(?:[A-Z][A-Za-z]+\s+){1,3}"
    r"(?:Street|St|Road|Rd|Avenue|Ave|Boulevard|Blvd|Lane|Ln|Drive|Dr|Way|Court|Ct|Place|Pl)\b\.?"
)
ADDRESS_PREFIX_MAX = 12  # characters of an address field's administrative part kept at most


def _mask_digits(run: str) -> str:
    digits = [i for i, c in enumerate(run) if c.isdigit()]
    keep_head, keep_tail = (3, 4) if len(digits) >= 11 else (2, 2)
    hidden = set(digits[keep_head : len(digits) - keep_tail])
    return "".join(MASK if i in hidden else c for i, c in enumerate(run))


def _mobile(match: re.Match[str]) -> str:
    run = match.group(0)
    digits = [c for c in run if c.isdigit()]
    local = "".join(digits[-11:])
    prefix = "+86 " if len(digits) > 11 else ""
    return f"{prefix}{local[:3]}{MASK * 4}{local[-4:]}"


def _phone(match: re.Match[str]) -> str:
    run = match.group(0)
    count = sum(c.isdigit() for c in run)
    if not PHONE_DIGITS[0] <= count <= PHONE_DIGITS[1] or _DATE.match(run):
        return run
    return _mask_digits(run)


def mask_phones(text: str) -> str:
    return _PHONE.sub(_phone, _CN_MOBILE.sub(_mobile, text))


def mask_addresses(text: str) -> str:
    text = _CN_ADDRESS.sub(lambda m: MASK * len(m.group(0)), text)
    return _EN_ADDRESS.sub(lambda m: MASK * len(m.group(0)), text)


def mask_text(text: str) -> str:
    """Free text (a message, a note on a record) with its phone numbers and addresses masked."""
    if not text:
        return text
    return mask_phones(mask_addresses(text))


def mask_address_field(value: str) -> str:
    """A field that holds an address: its administrative part (up to the last 省, 市, 区, 县 or
    旗 within ``ADDRESS_PREFIX_MAX`` characters; else nothing) kept, every other character but
    spaces starred."""
    if not value:
        return value
    head = value[:ADDRESS_PREFIX_MAX]
    cut = max(head.rfind(c) for c in _REGION_END) + 1
    return value[:cut] + "".join(c if c.isspace() else MASK for c in value[cut:])
