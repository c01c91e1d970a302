"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from apps.accounts.middleware import StaffAuthStack  # noqa: E402
from apps.conversations.consumers.agent import AgentConsumer  # noqa: E402
from apps.conversations.consumers.buyer import BuyerConsumer  # noqa: E402
from apps.conversations.middleware import BuyerSocketStack  # noqa: E402
from apps.core.unavailable import SocketUnavailableGuard  # noqa: E402

# A handshake from an Origin that is not allowed is refused with 403 (API.md, WebSockets). A socket
# whose database or Redis is unavailable (pool exhausted, server down), at the handshake or later,
# is closed with 1013 (Try Again Later) by the guard around all of them.
websocket_urlpatterns = [
    path("ws/agent/", AllowedHostsOriginValidator(StaffAuthStack(AgentConsumer.as_asgi()))),
    path("ws/widget/", BuyerSocketStack(BuyerConsumer.as_asgi())),
]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SocketUnavailableGuard(URLRouter(websocket_urlpatterns)),
    }
)
