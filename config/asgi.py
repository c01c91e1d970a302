"""ASGI entry point: HTTP through Django, WebSockets through Channels.

HTTP runs Django's WSGI handler in a bounded pool of ``HELPDESK_HTTP_THREADS`` threads
(``a2wsgi``): each request is one hop to a thread that runs the whole (sync) middleware chain and
view, and requests beyond the pool wait in its queue holding nothing. Django's ASGI handler
instead made a new thread per request and hopped between it and the event loop several times
(asgiref's ``ThreadSensitiveContext``, ``AsyncToSync``): about a third of the server's CPU under
the widget burst (issue 8, py-spy; docs/routing.md, "Throughput"). The product has no async views.
"""

import os

from a2wsgi import WSGIMiddleware
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_wsgi_app = get_wsgi_application()

from django.conf import settings  # noqa: E402

# (django-stubs types the handler's answer as a response, which is the iterable of bytes WSGI wants)
django_http_app = WSGIMiddleware(
    django_wsgi_app,  # type: ignore[arg-type]
    workers=settings.HELPDESK_HTTP_THREADS,
)

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
        "http": django_http_app,
        "websocket": SocketUnavailableGuard(URLRouter(websocket_urlpatterns)),
    }
)
