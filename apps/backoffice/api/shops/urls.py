from django.urls import path

from apps.backoffice.api.shops import views

urlpatterns = [
    path("shop/", views.ShopProfileView.as_view(), name="shop-profile"),
    path("settings/", views.SettingsView.as_view(), name="settings"),
    path("settings/widget-secret/", views.WidgetSecretView.as_view(), name="widget-secret"),
]
