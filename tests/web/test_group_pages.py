"""The routing groups pages (SPEC B2-B4, C1, A4, G1; issue 9): the list says the shop's mode,
one form writes a group, its scope and its members (group, weight, own max) together through the
API's services, every refused field is shown at once with nothing written, and deleting says
what happens. Another shop's groups are 404; without manage_routing the pages are 403."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from apps.accounts.models import Account
from apps.accounts.permissions import Perm
from apps.backoffice.groups import GroupScope, group_create
from apps.conversations.models import IntentRule
from apps.routing.models import AgentState, Group
from apps.shopdata.models import Buyer, Product
from conftest import ShopKit
from tests.support.web import signed_in

pytestmark = pytest.mark.django_db

LIST = "web:admin-groups"
NEW = "web:admin-group-create"
EDIT = "web:admin-group-edit"
DELETE = "web:admin-group-delete"


def state(account: Account) -> AgentState:
    return AgentState.objects.get(account=account)


def shop_data(kit: ShopKit, tag: str) -> None:
    """Buyers with segments, products with a category and an intent, all of ``kit``'s shop."""
    Buyer.objects.create(shop=kit.shop, external_id=f"b-{tag}", segments=[f"vip-{tag}", "all"])
    Product.objects.create(
        shop=kit.shop, external_id=f"p-{tag}", name=f"Cup {tag}", category=f"kitchen-{tag}"
    )
    IntentRule.objects.create(shop=kit.shop, name=f"refund-{tag}", keywords=["退款"])


def form_data(**fields: Any) -> dict[str, Any]:
    """What the page posts: no scope, no member unless given."""
    return {"name": "", "max_concurrent": "", **fields}


def test_simple_mode_with_no_group_is_said_plainly_with_an_empty_state(shop_a: ShopKit):
    page = signed_in(shop_a.main).get(reverse(LIST))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-mode="simple"' in html
    assert "every online agent receives buyers" in html
    assert "data-empty" in html
    assert reverse(NEW) in html


def test_creating_a_group_with_scope_and_members_writes_both_and_the_api_agrees(
    shop_a: ShopKit,
):
    # Given a shop with buyers' segments, a product, an intent and two agents
    shop_data(shop_a, "a")
    wang = shop_a.sub("wang", {Perm.CHAT})
    li = shop_a.sub("li", {Perm.CHAT})
    client = signed_in(shop_a.main)
    page = client.get(reverse(NEW))
    assert page.status_code == 200
    html = page.content.decode()
    for name, offered in [
        ("segments", "vip-a"),
        ("products", "p-a"),
        ("products", "category:kitchen-a"),
        ("intents", "refund-a"),
        ("order_statuses", "after_sale"),
        ("members", str(wang.pk)),
        ("members", str(shop_a.main.pk)),  # the main account receives buyers too
    ]:
        assert re.search(f'name="{name}" value="{re.escape(offered)}"', html), offered
    assert "Cup a (p-a)" in html and "After-sale" in html

    # When the owner creates VIP for segment vip-a and a category, with 小王 at weight 30, max 7
    response = client.post(
        reverse(NEW),
        form_data(
            name=" VIP ",
            max_concurrent="4",
            segments=["vip-a"],
            products=["category:kitchen-a", "p-a"],
            intents=["refund-a"],
            order_statuses=["paid", "none"],
            members=[str(wang.pk)],
            **{f"weight_{wang.pk}": "30", f"max_concurrent_{wang.pk}": "7"},
            **{f"weight_{li.pk}": "10", f"max_concurrent_{li.pk}": ""},
        ),
    )

    # Then the group and its member are stored, and the API says the same
    assert response.status_code == 302
    group = Group.objects.get(shop=shop_a.shop)
    assert (group.name, group.max_concurrent) == ("VIP", 4)
    assert group.scope_segments == ["vip-a"]
    assert group.scope_products == ["category:kitchen-a", "p-a"]
    assert group.scope_order_statuses == ["none", "paid"]
    assert (state(wang).group_id, state(wang).weight, state(wang).max_concurrent) == (
        group.pk,
        30,
        7,
    )
    assert state(li).group_id is None
    api = shop_a.client().get(f"/api/v1/groups/{group.pk}/").json()
    assert api["members"] == [wang.pk]
    assert api["scope"] == {
        "segments": ["vip-a"],
        "products": ["category:kitchen-a", "p-a"],
        "intents": ["refund-a"],
        "order_statuses": ["none", "paid"],
    }
    account = shop_a.client().get(f"/api/v1/accounts/{wang.pk}/").json()
    assert (account["group"], account["weight"], account["max_concurrent"]) == (group.pk, 30, 7)

    # and the list shows regular mode, the scope in words and the member by name
    listing = client.get(reverse(LIST)).content.decode()
    assert 'data-mode="regular"' in listing
    assert "Regular mode" in listing
    assert "Category: kitchen-a" in listing and "Cup a" in listing
    assert "Paid" in listing and "No order yet" in listing
    assert wang.label in listing and "1 member" in listing


def test_editing_renames_changes_the_scope_and_moves_a_member_from_another_group(
    shop_a: ShopKit,
):
    # Given two groups, 小王 in 售后 and 小李 in 售前
    shop_data(shop_a, "a")
    pre = group_create(actor=shop_a.main, name="售前", scope=GroupScope(segments=["vip-a"]))
    after = group_create(actor=shop_a.main, name="售后")
    wang = shop_a.sub("wang", {Perm.CHAT}, group=after, weight=15)
    li = shop_a.sub("li", {Perm.CHAT}, group=pre)
    client = signed_in(shop_a.main)
    page = client.get(reverse(EDIT, args=[pre.pk])).content.decode()
    assert "ticking moves it out of 售后" in page
    assert re.search(r'name="segments" value="vip-a"[^>]* checked', page)

    # When the owner renames 售前, gives it an order-status scope, ticks 小王 and unticks 小李
    response = client.post(
        reverse(EDIT, args=[pre.pk]),
        form_data(
            name="Pre-sales",
            order_statuses=["unpaid"],
            members=[str(wang.pk)],
            **{f"weight_{wang.pk}": "15", f"max_concurrent_{wang.pk}": ""},
            **{f"weight_{li.pk}": "10", f"max_concurrent_{li.pk}": ""},
        ),
        follow=True,
    )

    # Then 小王 moved (and is told so), 小李 is in no group, the scope replaced as a whole
    assert "Moved into it from another group: wang." in response.content.decode()
    pre.refresh_from_db()
    assert pre.name == "Pre-sales"
    assert (pre.scope_segments, pre.scope_order_statuses) == ([], ["unpaid"])
    assert state(wang).group_id == pre.pk and state(wang).weight == 15
    assert state(li).group_id is None
    assert shop_a.client().get(f"/api/v1/groups/{after.pk}/").json()["members"] == []


def test_every_refused_field_is_shown_at_once_and_nothing_is_written(shop_a: ShopKit):
    shop_data(shop_a, "a")
    existing = group_create(actor=shop_a.main, name="售后")
    wang = shop_a.sub("wang", {Perm.CHAT})
    client = signed_in(shop_a.main)
    before = (Group.objects.count(), state(wang).group_id, state(wang).weight)

    # A blank name, a max of 0, an unknown product and a weight of 0, all at once
    blank = client.post(
        reverse(NEW),
        form_data(
            name="  ",
            max_concurrent="0",
            products=["no-such-product"],
            members=[str(wang.pk)],
            **{f"weight_{wang.pk}": "0", f"max_concurrent_{wang.pk}": "51"},
        ),
    )
    assert blank.status_code == 200
    errors = blank.context["form"].errors
    assert {"name", "max_concurrent", "products", f"weight_{wang.pk}"} <= set(errors)
    assert f"max_concurrent_{wang.pk}" in errors
    assert "Please check the following" in blank.content.decode()

    # A duplicate name and a max of 51 are both named; the member stays where it was
    duplicate = client.post(
        reverse(NEW),
        form_data(
            name="售后",
            max_concurrent="51",
            members=[str(wang.pk)],
            **{f"weight_{wang.pk}": "40", f"max_concurrent_{wang.pk}": ""},
        ),
    )
    assert duplicate.status_code == 200
    errors = duplicate.context["form"].errors
    assert "A group with this name already exists." in errors["name"]
    assert "max_concurrent" in errors
    assert (Group.objects.count(), state(wang).group_id, state(wang).weight) == before

    # Editing with a clashing name writes neither the scope nor the members
    other = group_create(actor=shop_a.main, name="售前")
    clash = client.post(
        reverse(EDIT, args=[other.pk]),
        form_data(
            name="售后",
            segments=["vip-a"],
            members=[str(wang.pk)],
            **{f"weight_{wang.pk}": "40", f"max_concurrent_{wang.pk}": ""},
        ),
    )
    assert clash.status_code == 200
    assert "A group with this name already exists." in clash.context["form"].errors["name"]
    other.refresh_from_db()
    assert (other.name, other.scope_segments) == ("售前", [])
    assert (state(wang).group_id, state(wang).weight) == (None, 10)
    assert existing.name == "售后"


def test_deleting_says_what_happens_and_the_last_group_brings_back_simple_mode(
    shop_a: ShopKit,
):
    group = group_create(actor=shop_a.main, name="VIP", max_concurrent=3)
    wang = shop_a.sub("wang", {Perm.CHAT}, group=group)
    client = signed_in(shop_a.main)
    confirm = client.get(reverse(DELETE, args=[group.pk]))
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert "stays, in no group, with the shop's default max concurrent (5)" in html
    assert "switches back to simple mode" in html
    assert Group.objects.filter(pk=group.pk).exists()  # asking deletes nothing

    done = client.post(reverse(DELETE, args=[group.pk]), follow=True)
    assert "The group VIP was deleted." in done.content.decode()
    assert 'data-mode="simple"' in done.content.decode()
    assert not Group.objects.filter(pk=group.pk).exists()
    assert state(wang).group_id is None
    assert Account.objects.filter(pk=wang.pk, is_active=True).exists()


def test_another_shops_group_is_404_and_its_data_is_never_offered(shop_a: ShopKit, shop_b: ShopKit):
    shop_data(shop_a, "a")
    shop_data(shop_b, "b")
    theirs = group_create(actor=shop_b.main, name="B-only")
    b_agent = shop_b.sub("b-agent", {Perm.CHAT})
    client = signed_in(shop_a.main)
    assert client.get(reverse(EDIT, args=[theirs.pk])).status_code == 404
    assert client.post(reverse(EDIT, args=[theirs.pk]), form_data(name="x")).status_code == 404
    assert client.get(reverse(DELETE, args=[theirs.pk])).status_code == 404
    assert client.post(reverse(DELETE, args=[theirs.pk])).status_code == 404
    assert Group.objects.get(pk=theirs.pk).name == "B-only"

    page = client.get(reverse(NEW))
    html = page.content.decode()
    assert "vip-a" in html and "refund-a" in html and "p-a" in html
    for foreign in ("vip-b", "refund-b", "p-b", "kitchen-b", "b-agent"):
        assert foreign not in html
    assert "B-only" not in client.get(reverse(LIST)).content.decode()

    # Posting shop B's agent or product as if they were choices is refused
    refused = client.post(
        reverse(NEW), form_data(name="X", products=["p-b"], members=[str(b_agent.pk)])
    )
    assert refused.status_code == 200
    assert {"products", "members"} <= set(refused.context["form"].errors)
    assert not Group.objects.filter(shop=shop_a.shop).exists()
    assert state(b_agent).group_id is None


def test_without_manage_routing_the_pages_are_403_and_with_it_they_open(shop_a: ShopKit):
    group = group_create(actor=shop_a.main, name="VIP")
    agent = shop_a.sub("agent", {Perm.CHAT, Perm.MANAGE_SETTINGS})
    refused = signed_in(agent)
    for url in (reverse(LIST), reverse(NEW), reverse(EDIT, args=[group.pk])):
        assert refused.get(url).status_code == 403
    assert refused.post(reverse(NEW), form_data(name="Sneaky")).status_code == 403
    assert refused.post(reverse(DELETE, args=[group.pk])).status_code == 403
    assert list(Group.objects.filter(shop=shop_a.shop).values_list("name", flat=True)) == ["VIP"]

    router = signed_in(shop_a.sub("router", {Perm.CHAT, Perm.MANAGE_ROUTING}))
    for url in (reverse(LIST), reverse(NEW), reverse(EDIT, args=[group.pk])):
        assert router.get(url).status_code == 200
    made = router.post(reverse(NEW), form_data(name="Night shift"))
    assert made.status_code == 302
    assert Group.objects.filter(shop=shop_a.shop, name="Night shift").exists()


def test_a_routing_manager_cannot_move_a_more_privileged_colleague(shop_a: ShopKit):
    # amended A4: account changes go through the same check as the accounts API
    boss = shop_a.sub("boss", {Perm.CHAT, Perm.MANAGE_ACCOUNTS, Perm.MANAGE_ROUTING})
    router = shop_a.sub("router", {Perm.CHAT, Perm.MANAGE_ROUTING})
    response = signed_in(router).post(
        reverse(NEW),
        form_data(
            name="VIP",
            members=[str(boss.pk)],
            **{f"weight_{boss.pk}": "10", f"max_concurrent_{boss.pk}": ""},
        ),
    )
    assert response.status_code == 200
    assert "boss" in " ".join(response.context["form"].errors["members"])
    assert not Group.objects.filter(shop=shop_a.shop).exists()
    assert state(boss).group_id is None


def test_a_value_no_longer_in_the_shops_data_stays_offered_and_empty_lists_say_why(
    shop_a: ShopKit,
):
    # A scope value the shop's systems no longer send is kept, not silently dropped on save
    group = group_create(
        actor=shop_a.main, name="Old", scope=GroupScope(products=["p-gone"], segments=["x"])
    )
    client = signed_in(shop_a.main)
    html = client.get(reverse(EDIT, args=[group.pk])).content.decode()
    assert re.search(r'name="products" value="p-gone"[^>]* checked', html)
    assert "p-gone (not in the shop&#x27;s data now)" in html
    assert 'data-empty-choices="intents"' in html  # no intent rules: the page says how
    response = client.post(
        reverse(EDIT, args=[group.pk]),
        form_data(name="Old", products=["p-gone"], segments=["x"]),
    )
    assert response.status_code == 302
    group.refresh_from_db()
    assert (group.scope_products, group.scope_segments) == (["p-gone"], ["x"])
