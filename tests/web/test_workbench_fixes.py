"""Fixes of the workbench and the account pages: every form error in one answer (sign-up and
accounts), the transfer note kept as an internal note for staff alone (amended B12, SPEC I3),
the transfer list with each colleague's status (B12), the entrance's translated label (E3)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts.models import Account
from apps.conversations import lifecycle
from apps.conversations.models import Conversation, InternalNote, Message, NoteKind
from apps.routing.models import AgentState, AgentStatus
from apps.shops.models import Shop
from conftest import PASSWORD, ShopKit
from tests.support.web import signed_in
from tests.support.widget import widget_client

pytestmark = pytest.mark.django_db


def text_of(response) -> str:
    return response.content.decode()


# --- Every error at once (sign-up, accounts) --------------------------------------------------


def test_signup_shows_every_fields_error_in_one_answer(client: Client, shop_a: ShopKit):
    # Given a slug that is taken, a blank name, a weak password and a repeat that differs
    data = {
        "slug": "shop-a",
        "name": "   ",
        "time_zone": "Asia/Shanghai",
        "password": "12345678",
        "password2": "12345679",
    }

    # When the owner submits the sign-up form once
    response = client.post(reverse("web:signup"), data)

    # Then every field's problem is shown at once, and nothing was created
    errors = response.context["form"].errors
    assert set(errors) >= {"slug", "name", "password", "password2"}
    assert errors["slug"] == ["A shop with this name already exists."]
    assert Shop.objects.filter(slug="shop-a").count() == 1
    page = text_of(response)
    assert "A shop with this name already exists." in page
    assert "The two passwords differ." in page


def test_signup_shows_a_bad_slug_with_the_password_error(client: Client, db):
    data = {
        "slug": "-Bad Slug-",
        "name": "Tea",
        "time_zone": "Asia/Shanghai",
        "password": "password",
        "password2": "password",
    }
    response = client.post(reverse("web:signup"), data)
    errors = response.context["form"].errors
    assert set(errors) == {"slug", "password"}
    assert not Shop.objects.exists()


def test_signup_reserved_name_shows_with_other_errors(client: Client, db):
    data = {"slug": "admin", "name": "", "time_zone": "Asia/Shanghai", "password": ""}
    errors = client.post(reverse("web:signup"), data).context["form"].errors
    assert errors["slug"] == ["This name is reserved."]
    assert {"name", "password", "password2"} <= set(errors)


def test_new_sub_account_shows_name_and_password_errors_together(shop_a: ShopKit):
    # Given a name with a colon and a password that is only digits, weight out of range
    client = signed_in(shop_a.main)
    data = {
        "name": "bad:name",
        "display_name": "",
        "password": "12345678",
        "permissions": ["chat"],
        "routing_enabled": "on",
        "group": "",
        "weight": "500",
        "max_concurrent": "",
    }

    # When the form is submitted once
    response = client.post(reverse("web:admin-account-create"), data)

    # Then all three fields say what is wrong, and no account was created
    errors = response.context["form"].errors
    assert errors["name"] == ["A name may not contain colons, spaces, slashes or @."]
    assert "password" in errors and "weight" in errors
    assert not Account.objects.filter(shop=shop_a.shop, kind="sub").exists()


def test_new_sub_account_taken_name_shows_with_a_weak_password(shop_a: ShopKit):
    shop_a.sub("agent1")
    data = {
        "name": "agent1",
        "password": "11112222",
        "permissions": ["chat"],
        "routing_enabled": "on",
        "weight": "10",
    }
    response = signed_in(shop_a.main).post(reverse("web:admin-account-create"), data)
    errors = response.context["form"].errors
    assert errors["name"] == ["A sub-account with this name already exists."]
    assert "password" in errors


def test_password_reset_shows_weakness_and_mismatch_together(shop_a: ShopKit):
    agent = shop_a.sub("agent1")
    response = signed_in(shop_a.main).post(
        reverse("web:admin-account-password", args=[agent.pk]),
        {"password": "12345678", "password2": "87654321"},
    )
    errors = response.context["form"].errors
    assert set(errors) == {"password", "password2"}
    agent.refresh_from_db()
    assert agent.check_password(PASSWORD)


# --- The transfer note (amended B12, I3) -------------------------------------------------------


def _online(account: Account) -> None:
    lifecycle.agent_set_status(account=account, status=AgentStatus.ONLINE)


def _active_conversation(shop: ShopKit, agent: Account) -> tuple[Conversation, APIClient]:
    """A buyer of ``shop`` chatting with ``agent`` (the only one online), and its client."""
    buyer = widget_client(shop.shop, entrance="member")
    answer = buyer.post("/api/v1/widget/conversation/", {"human": True}, format="json")
    assert answer.status_code in (200, 201), answer.content
    conversation = Conversation.objects.get(pk=answer.json()["id"])
    assert conversation.agent_id == agent.pk
    return conversation, buyer


def test_transfer_note_is_kept_for_staff_and_never_reaches_the_buyer(shop_a: ShopKit):
    # Given two online agents, the first chatting with a buyer
    first, second = shop_a.sub("first"), shop_a.sub("second")
    AgentState.objects.filter(account=shop_a.main).update(routing_enabled=False)
    _online(first)
    conversation, buyer = _active_conversation(shop_a, first)
    _online(second)

    # When the first transfers it to the second with a note
    answer = shop_a.client(first).post(
        f"/api/v1/conversations/{conversation.pk}/transfer/",
        {"to_account": second.pk, "note": "  问库存, 已查过订单  "},
        format="json",
    )

    # Then the note is an internal note of kind transfer, by the first agent
    assert answer.status_code == 200, answer.content
    note = InternalNote.objects.get(conversation=conversation)
    assert (note.kind, note.body, note.author_id) == (
        NoteKind.TRANSFER,
        "问库存, 已查过订单",
        first.pk,
    )
    assert note.shop_id == shop_a.shop.pk
    # and the buyer's messages never carry it
    messages = buyer.get("/api/v1/widget/conversation/messages/").json()["results"]
    assert all("问库存" not in m["body"] for m in messages)
    assert not Message.objects.filter(conversation=conversation, body__contains="问库存").exists()
    assert "问库存" not in buyer.get("/api/v1/widget/conversation/").content.decode()


def test_refused_transfer_keeps_no_note(shop_a: ShopKit):
    # Given an offline colleague
    first, second = shop_a.sub("first"), shop_a.sub("second")
    AgentState.objects.filter(account=shop_a.main).update(routing_enabled=False)
    _online(first)
    conversation, _buyer = _active_conversation(shop_a, first)

    # When the transfer to it is refused
    answer = shop_a.client(first).post(
        f"/api/v1/conversations/{conversation.pk}/transfer/",
        {"to_account": second.pk, "note": "hello"},
        format="json",
    )

    # Then nothing changed and no note was kept
    assert answer.status_code == 409
    assert not InternalNote.objects.filter(conversation=conversation).exists()
    conversation.refresh_from_db()
    assert conversation.agent_id == first.pk


def test_transfer_without_a_note_keeps_none(shop_a: ShopKit):
    first, second = shop_a.sub("first"), shop_a.sub("second")
    AgentState.objects.filter(account=shop_a.main).update(routing_enabled=False)
    _online(first)
    conversation, _buyer = _active_conversation(shop_a, first)
    _online(second)
    answer = shop_a.client(first).post(
        f"/api/v1/conversations/{conversation.pk}/transfer/",
        {"to_account": second.pk, "note": "   "},
        format="json",
    )
    assert answer.status_code == 200
    assert not InternalNote.objects.filter(conversation=conversation).exists()


# --- The workbench's transfer list and entrance labels (B12, E3) -------------------------------


def test_transfer_list_shows_each_colleagues_status_and_only_online_ones_can_be_chosen(
    shop_a: ShopKit,
):
    # Given an online colleague, a paused one, an offline main account, one without chat
    agent = shop_a.sub("me")
    online, paused = shop_a.sub("online"), shop_a.sub("paused")
    shop_a.sub("viewer", perms=set())
    _online(online)
    lifecycle.agent_set_status(account=paused, status=AgentStatus.PAUSED)

    # When the agent opens the workbench
    page = text_of(signed_in(agent).get(reverse("web:workbench")))
    start = page.index('id="transfer-to"')
    select = page[start : page.index("</select>", start)]

    # Then each colleague shows with its status; only the online one may be chosen
    def option(login: str) -> str:
        match = re.search(r"<option [^>]*>[^<]*\(" + re.escape(login) + r"\)[^<]*</option>", select)
        assert match, login
        return match.group(0)

    assert "disabled" not in option("shop-a:online")
    assert 'data-status="online"' in option("shop-a:online")
    assert "disabled" in option("shop-a:paused") and "Paused" in option("shop-a:paused")
    main = re.search(r"<option [^>]*>[^<]*\(shop-a\)[^<]*</option>", select)
    assert main and "disabled" in main.group(0) and "Offline" in main.group(0)
    assert "shop-a:viewer" not in select  # may never chat: never a target
    assert "shop-a:me" not in select


def test_workbench_carries_the_translated_entrance_labels(shop_a: ShopKit):
    client = signed_in(shop_a.main)
    page = text_of(client.get(reverse("web:workbench")))
    assert '"member": "Member centre"' in page

    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    page = text_of(client.get(reverse("web:workbench")))
    labels = re.search(r'<script id="entrance-labels" type="application/json">(.*?)</script>', page)
    assert labels
    assert "Member centre" not in labels.group(1)
