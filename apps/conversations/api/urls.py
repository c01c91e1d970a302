from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.conversations.api import (
    files,
    forecast,
    quick_replies,
    staff_messages,
    tickets,
    views,
    widget,
    widget_intents,
)

router = SimpleRouter()
router.register("conversations", views.ConversationViewSet, basename="conversation")
router.register("private-contacts", views.PrivateContactViewSet, basename="private-contact")
router.register("intent-rules", views.IntentRuleViewSet, basename="intent-rule")
router.register("quick-replies", quick_replies.QuickReplyViewSet, basename="quick-reply")

urlpatterns = [
    path("queue/", views.QueueView.as_view(), name="queue"),
    # SPEC G4: the staffing forecast (docs/forecast.md).
    path("forecast/", forecast.ForecastView.as_view(), name="forecast"),
    # SPEC E4: here, not in apps.shopdata: who reads an order's notes follows who sees
    # conversations (E6).
    path("orders/<str:external_id>/notes/", views.OrderNotesView.as_view(), name="order-notes"),
    path("widget/session/", widget.WidgetSessionView.as_view(), name="widget-session"),
    path("ws-ticket/", tickets.WebSocketTicketView.as_view(), name="ws-ticket"),
    path(
        "widget/appearance/<slug:slug>/",
        widget.WidgetAppearanceView.as_view(),
        name="widget-appearance",
    ),
    path("widget/agents/", widget.WidgetAgentsView.as_view(), name="widget-agents"),
    # Seed 002: the "choose your question" menu; seed 004: whether the shop queues.
    path("widget/intents/", widget_intents.WidgetIntentsView.as_view(), name="widget-intents"),
    # Seed 001: staff and the main account write to each other, never routed.
    path("staff-messages/", staff_messages.StaffMessagesView.as_view(), name="staff-messages"),
    path(
        "widget/conversation/", widget.WidgetConversationView.as_view(), name="widget-conversation"
    ),
    path(
        "widget/conversation/messages/",
        widget.WidgetMessagesView.as_view(),
        name="widget-messages",
    ),
    path("widget/conversation/leave/", widget.WidgetLeaveView.as_view(), name="widget-leave"),
    # SPEC I1: images and recall, from both sides; the images' files for who may see them.
    path("widget/conversation/images/", widget.WidgetImagesView.as_view(), name="widget-images"),
    path(
        "widget/conversation/messages/<int:message_id>/recall/",
        widget.WidgetMessageRecallView.as_view(),
        name="widget-message-recall",
    ),
    path(
        "conversations/<int:pk>/messages/<int:message_id>/recall/",
        views.MessageRecallView.as_view(),
        name="message-recall",
    ),
    path("attachments/<int:pk>/", files.AttachmentFileView.as_view(), name="attachment-file"),
    path(
        "attachments/<int:pk>/thumbnail/",
        files.AttachmentFileView.as_view(thumbnail=True),
        name="attachment-thumbnail",
    ),
    path("widget/conversation/rating/", widget.WidgetRatingView.as_view(), name="widget-rating"),
    *router.urls,
]
