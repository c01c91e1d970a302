"""The demo shop of `make run`: idempotent, through the same services as the product."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Account
from apps.accounts.permissions import Perm
from apps.backoffice import services as account_services
from apps.quickreplies import services as quick_replies
from apps.quickreplies.models import QuickReply
from apps.routing.models import Group
from apps.shopdata.models import Buyer, Order, Product
from apps.shops.models import Shop

DEMO_SLUG = "demo"
DEMO_PASSWORD = "demo-pass-2026"
# (name, display name, group, weight, extra permissions)
DEMO_AGENTS: list[tuple[str, str, str, int, set[Perm]]] = [
    ("xiaowang", "小王", "售前", 20, set()),
    ("xiaoli", "小李", "售前", 10, set()),
    # after-sales: sees the buyers' addresses and phone numbers (SPEC I6, view_buyer_info)
    (
        "xiaozhang",
        "小张",
        "售后",
        15,
        {Perm.HANDLE_AFTER_SALES, Perm.HANDLE_ORDERS, Perm.VIEW_BUYER_INFO},
    ),
    ("xiaozhao", "小赵", "售后", 5, {Perm.HANDLE_AFTER_SALES, Perm.VIEW_MONITOR}),
]
DEMO_LOGINS: list[tuple[str, str]] = [(DEMO_SLUG, DEMO_PASSWORD)] + [
    (f"{DEMO_SLUG}:{name}", DEMO_PASSWORD) for name, *_ in DEMO_AGENTS
]
# Shop-wide quick replies (SPEC D7): (category, text, keywords).
DEMO_QUICK_REPLIES: list[tuple[str, str, list[str]]] = [
    ("问候", "您好，欢迎光临演示小店，请问有什么可以帮您？", ["在吗", "你好", "hello"]),
    ("物流", "您的订单已发货，物流单号可在订单详情中查看。", ["发货", "物流", "快递", "单号"]),
    ("售后", "收到商品 7 天内可无理由退换，请在订单页申请售后。", ["退货", "退款", "换货"]),
    ("商品", "这款有现货，今天下单明天发出。", ["有货", "现货", "库存"]),
]
DEMO_GROUPS = {
    "售前": {"scope_order_statuses": ["none", "unpaid"]},
    "售后": {"scope_order_statuses": ["paid", "shipped", "completed", "after_sale"]},
}


@transaction.atomic
def load_demo() -> Shop:
    shop = Shop.objects.filter(slug=DEMO_SLUG).first()
    if shop is None:
        signup = account_services.shop_signup(
            slug=DEMO_SLUG, name="演示小店 Demo Shop", password=DEMO_PASSWORD
        )
        shop = signup.shop
    main = Account.objects.get(shop=shop, kind="main")
    groups = {
        name: Group.objects.get_or_create(shop=shop, name=name, defaults=scope)[0]
        for name, scope in DEMO_GROUPS.items()
    }
    for name, display, group, weight, extra in DEMO_AGENTS:
        if not Account.objects.filter(shop=shop, name=name).exists():
            account_services.account_create(
                actor=main,
                name=name,
                password=DEMO_PASSWORD,
                display_name=display,
                permissions={Perm.CHAT, *extra},
                group=groups[group],
                weight=weight,
            )
    if not QuickReply.objects.filter(shop=shop).exists():
        for position, (category, text, keywords) in enumerate(DEMO_QUICK_REPLIES):
            quick_replies.quick_reply_create(
                actor=main, text=text, keywords=keywords, category=category, position=position
            )
    products = {
        ext: Product.objects.update_or_create(
            shop=shop, external_id=ext, defaults={"name": name, "category": category}
        )[0]
        for ext, name, category in [
            ("p-1001", "保温杯 Thermos cup 500ml", "kitchen"),
            ("p-1002", "蓝牙耳机 Bluetooth earphones", "electronics"),
            ("p-1003", "羊毛围巾 Wool scarf", "clothing"),
        ]
    }
    now = timezone.now()
    buyers = {
        ext: Buyer.objects.update_or_create(
            shop=shop, external_id=ext, defaults={"name": name, "segments": segments}
        )[0]
        for ext, name, segments in [
            ("b-001", "张三", ["member:gold", "region:zhejiang"]),
            ("b-002", "李四", ["region:beijing"]),
            ("b-003", "Alice", []),
        ]
    }
    for ext, buyer, status, product, days_ago in [
        ("o-5001", "b-001", "paid", "p-1001", 2),
        ("o-5002", "b-001", "completed", "p-1003", 20),
        ("o-5003", "b-002", "unpaid", "p-1002", 0),
    ]:
        p = products[product]
        Order.objects.update_or_create(
            shop=shop,
            external_id=ext,
            defaults={
                "buyer": buyers[buyer],
                "status": status,
                "amount": Decimal("129.00"),
                "shipping_fee": Decimal("10.00"),
                "items": [
                    {"product": p.external_id, "name": p.name, "quantity": 1, "price": "119.00"}
                ],
                "created_at": now - timedelta(days=days_ago),
                "paid_at": None if status == "unpaid" else now - timedelta(days=days_ago),
            },
        )
    return shop
