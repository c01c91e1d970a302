from rest_framework.routers import SimpleRouter

from apps.backoffice.api.groups import views

router = SimpleRouter()
router.register("groups", views.GroupViewSet, basename="group")

urlpatterns = router.urls
