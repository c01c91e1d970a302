from django.urls import path

from apps.integrations import schema  # noqa: F401  (registers the API key's scheme)
from apps.integrations.api import views

urlpatterns = [
    path("api-keys/", views.ApiKeyListView.as_view(), name="api-key-list"),
    path("api-keys/<int:pk>/", views.ApiKeyDetailView.as_view(), name="api-key-detail"),
    path("webhooks/", views.WebhookListView.as_view(), name="webhook-list"),
    path("webhooks/<int:pk>/", views.WebhookDetailView.as_view(), name="webhook-detail"),
    path(
        "webhooks/<int:pk>/deliveries/",
        views.WebhookDeliveriesView.as_view(),
        name="webhook-deliveries",
    ),
]
