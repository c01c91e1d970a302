from django.urls import path

from apps.shopdata.api import views

urlpatterns = [
    path("buyers/<str:external_id>/", views.BuyerUpsertView.as_view(), name="buyer-upsert"),
    path("buyers/<str:external_id>/visits/", views.BuyerVisitView.as_view(), name="buyer-visits"),
    path("products/<str:external_id>/", views.ProductUpsertView.as_view(), name="product-upsert"),
    path("orders/<str:external_id>/", views.OrderUpsertView.as_view(), name="order-upsert"),
    path(
        "after-sales/<str:external_id>/",
        views.AfterSaleUpsertView.as_view(),
        name="after-sale-upsert",
    ),
]
