from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.accounts import schema  # noqa: F401  (registers the staff token scheme)
from apps.backoffice.api.accounts import views

router = SimpleRouter()
router.register("accounts", views.AccountViewSet, basename="account")

urlpatterns = [
    path("shops/", views.SignupView.as_view(), name="shop-signup"),
    path("auth/token/", views.TokenLoginView.as_view(), name="auth-token"),
    path("me/", views.MeView.as_view(), name="me"),
    path("me/status/", views.MeStatusView.as_view(), name="me-status"),
    *router.urls,
]
