from django.urls import path

from apps.shopdata.api import views

urlpatterns = [
    path("buyers/<str:external_id>/", views.BuyerUpsertView.as_view(), name="buyer-upsert"),
    path("products/<str:external_id>/", views.ProductUpsertView.as_view(), name="product-upsert"),
    path("orders/<str:external_id>/", views.OrderUpsertView.as_view(), name="order-upsert"),
]
