from django.urls import path

from apps.safety.api import views

urlpatterns = [
    path("sensitive-words/", views.SensitiveWordListView.as_view(), name="sensitive-word-list"),
    path(
        "sensitive-words/<int:pk>/",
        views.SensitiveWordDetailView.as_view(),
        name="sensitive-word-detail",
    ),
    path("blocked-buyers/", views.BuyerBlockListView.as_view(), name="blocked-buyer-list"),
    path(
        "blocked-buyers/<str:buyer>/",
        views.BuyerBlockDetailView.as_view(),
        name="blocked-buyer-detail",
    ),
]
