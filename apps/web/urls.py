from django.urls import path

from apps.web import (
    automation_pages,
    forecast_pages,
    groups_pages,
    history_pages,
    integrations_pages,
    metrics_pages,
    pwa,
    routing_pages,
    safety_pages,
    views,
)

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginPage.as_view(), name="login"),
    path("logout/", views.LogoutPage.as_view(), name="logout"),
    path("signup/", views.SignupPage.as_view(), name="signup"),
    path("workbench/", views.WorkbenchPage.as_view(), name="workbench"),
    # The shop's own admin pages (Django's admin is not installed).
    path("admin/", views.AdminHome.as_view(), name="admin"),
    path("admin/accounts/", views.AccountListPage.as_view(), name="admin-accounts"),
    path("admin/accounts/new/", views.AccountCreatePage.as_view(), name="admin-account-create"),
    path("admin/accounts/<int:pk>/", views.AccountEditPage.as_view(), name="admin-account-edit"),
    path(
        "admin/accounts/<int:pk>/active/",
        views.AccountActivePage.as_view(),
        name="admin-account-active",
    ),
    path(
        "admin/accounts/<int:pk>/password/",
        views.AccountPasswordPage.as_view(),
        name="admin-account-password",
    ),
    path(
        "admin/accounts/<int:pk>/delete/",
        views.AccountDeletePage.as_view(),
        name="admin-account-delete",
    ),
    path("admin/quick-replies/", views.QuickReplyListPage.as_view(), name="admin-quick-replies"),
    path(
        "admin/quick-replies/new/",
        views.QuickReplyEditPage.as_view(),
        name="admin-quick-reply-create",
    ),
    path(
        "admin/quick-replies/<int:pk>/",
        views.QuickReplyEditPage.as_view(),
        name="admin-quick-reply-edit",
    ),
    path(
        "admin/quick-replies/<int:pk>/delete/",
        views.QuickReplyDeletePage.as_view(),
        name="admin-quick-reply-delete",
    ),
    path("admin/shop/", views.ShopProfilePage.as_view(), name="admin-shop"),
    path("admin/widget/", views.WidgetSettingsPage.as_view(), name="admin-widget"),
    path(
        "admin/widget/rotate-secret/",
        views.WidgetSecretRotatePage.as_view(),
        name="admin-widget-rotate",
    ),
    path("demo/widget/", views.WidgetDemoPage.as_view(), name="widget-demo"),
    path("widget/<slug:slug>/", views.ShopWidgetPage.as_view(), name="widget"),
]
# The settings pages of G1, one module per area.
urlpatterns += groups_pages.urlpatterns + routing_pages.urlpatterns + automation_pages.urlpatterns
# History (SPEC E6).
urlpatterns += history_pages.urlpatterns
# The live board, the metrics and their targets (SPEC G2, G3).
urlpatterns += metrics_pages.urlpatterns
# The installable workbench (seed 002): the manifest and the service worker.
urlpatterns += pwa.urlpatterns
# The staffing forecast (SPEC G4).
urlpatterns += forecast_pages.urlpatterns
# API keys, webhooks and the audit log (SPEC H2, H4, I5).
urlpatterns += integrations_pages.urlpatterns
# Sensitive words, blocked buyers and the retention period (SPEC I6).
urlpatterns += safety_pages.urlpatterns
