"""ASGI entry point: HTTP through Django, WebSockets through Channels.

HTTP runs Django's handler with its sync middleware chain in a bounded pool of
``HELPDESK_HTTP_THREADS`` threads, one thread hop per request (``apps.core.asgi_http``): requests
beyond the pool wait in its queue holding nothing. Django's ASGI handler instead made a new thread
per request and hopped between it and the event loop several times, and a WSGI bridge hops four
times per request: together about a third of the server's CPU under the widget burst (issue 8,
py-spy; docs/routing.md, "Throughput"). The product has no async views.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)  # as django.core.asgi does; the handler sets the prefix per request

from django.conf import settings  # noqa: E402

from apps.core.asgi_http import PooledHTTPHandler  # noqa: E402

django_http_app = PooledHTTPHandler(threads=settings.HELPDESK_HTTP_THREADS)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from apps.accounts.middleware import StaffAuthStack  # noqa: E402
from apps.conversations.consumers.agent import AgentConsumer  # noqa: E402
from apps.conversations.consumers.buyer import BuyerConsumer  # noqa: E402
from apps.conversations.middleware import BuyerSocketStack  # noqa: E402
from apps.core.unavailable import SocketUnavailableGuard  # noqa: E402
from apps.metrics.consumers import MonitorConsumer  # noqa: E402

# A handshake from an Origin that is not allowed is refused with 403 (API.md, WebSockets). A socket
# whose database or Redis is unavailable (pool exhausted, server down), at the handshake or later,
# is closed with 1013 (Try Again Later) by the guard around all of them.
websocket_urlpatterns = [
    path("ws/agent/", AllowedHostsOriginValidator(StaffAuthStack(AgentConsumer.as_asgi()))),
    path("ws/widget/", BuyerSocketStack(BuyerConsumer.as_asgi())),
    # SPEC G2: the live board's socket (the account's stream, monitor.updated only, no presence).
    path("ws/monitor/", AllowedHostsOriginValidator(StaffAuthStack(MonitorConsumer.as_asgi()))),
]

application = ProtocolTypeRouter(
    {
        "http": django_http_app,
        "websocket": SocketUnavailableGuard(URLRouter(websocket_urlpatterns)),
    }
)
