from rest_framework.routers import SimpleRouter

from apps.routing.api import views

router = SimpleRouter()
router.register("groups", views.GroupViewSet, basename="group")

urlpatterns = router.urls
