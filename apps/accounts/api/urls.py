from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.accounts.api import schema, views  # noqa: F401  (schema: the staff token scheme)

router = SimpleRouter()
router.register("accounts", views.AccountViewSet, basename="account")

urlpatterns = [
    path("shops/", views.SignupView.as_view(), name="shop-signup"),
    path("auth/token/", views.TokenLoginView.as_view(), name="auth-token"),
    path("me/", views.MeView.as_view(), name="me"),
    path("me/status/", views.MeStatusView.as_view(), name="me-status"),
    *router.urls,
]
