from django.urls import include, path

urlpatterns = [
    path("", include("apps.backoffice.api.accounts.urls")),
    path("", include("apps.backoffice.api.shops.urls")),
    path("", include("apps.backoffice.api.groups.urls")),
]
