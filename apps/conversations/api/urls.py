from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.conversations.api import quick_replies, views, widget

router = SimpleRouter()
router.register("conversations", views.ConversationViewSet, basename="conversation")
router.register("private-contacts", views.PrivateContactViewSet, basename="private-contact")
router.register("intent-rules", views.IntentRuleViewSet, basename="intent-rule")
router.register("quick-replies", quick_replies.QuickReplyViewSet, basename="quick-reply")

urlpatterns = [
    path("queue/", views.QueueView.as_view(), name="queue"),
    path("widget/session/", widget.WidgetSessionView.as_view(), name="widget-session"),
    path(
        "widget/appearance/<slug:slug>/",
        widget.WidgetAppearanceView.as_view(),
        name="widget-appearance",
    ),
    path("widget/agents/", widget.WidgetAgentsView.as_view(), name="widget-agents"),
    path(
        "widget/conversation/", widget.WidgetConversationView.as_view(), name="widget-conversation"
    ),
    path(
        "widget/conversation/messages/",
        widget.WidgetMessagesView.as_view(),
        name="widget-messages",
    ),
    path("widget/conversation/leave/", widget.WidgetLeaveView.as_view(), name="widget-leave"),
    path("widget/conversation/rating/", widget.WidgetRatingView.as_view(), name="widget-rating"),
    *router.urls,
]
