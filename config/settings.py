"""Settings, read from the environment (12-factor).

Two modes, chosen by ``HELPDESK_EMBEDDED``:

* full (default, the only one for production): PostgreSQL at ``DATABASE_URL``, Redis at
  ``REDIS_URL`` for the channel layer, the cache and the Celery broker;
* embedded (set by ``config.run`` when PostgreSQL or Redis cannot be reached): a SQLite file
  under ``var/``, the in-memory channel layer, Celery tasks run in-process and the periodic jobs
  run by an in-process scheduler. Single process only.
"""

from __future__ import annotations

import urllib.parse
import warnings
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

# `DJANGO_ENV=production` (set by the Docker image) removes every development default.
PRODUCTION = env.str("DJANGO_ENV", default="development") == "production"
DEBUG = env.bool("DEBUG", default=not PRODUCTION)
EMBEDDED = env.bool("HELPDESK_EMBEDDED", default=False)
if PRODUCTION and EMBEDDED:
    raise ImproperlyConfigured("The embedded mode is for development only.")

_DEV_SECRET = "dev-only-insecure-secret-key-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="" if PRODUCTION else _DEV_SECRET)
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set in production (DJANGO_ENV=production).")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# TLS-only settings: off by default so that `make run` serves plain HTTP on loopback.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/shop_helpdesk"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_URL = env.str("REDIS_URL", default=DEFAULT_REDIS_URL)

if EMBEDDED:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.str("EMBEDDED_SQLITE_PATH", default=str(VAR_DIR / "helpdesk.sqlite3")),
            # IMMEDIATE: every transaction takes SQLite's write lock when it begins. A deferred
            # one that read first and then wrote (the live board's push thread beside a request)
            # could not wait for the lock and failed with "database is locked" at once.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
else:
    DATABASES = {"default": env.db_url("DATABASE_URL", default=DEFAULT_DATABASE_URL)}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # psycopg 3's server-side binding: values travel apart from the SQL (no quoting in Python).
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = env.bool(
        "HELPDESK_DB_SERVER_SIDE_BINDING", default=True
    )
    # A statement a connection has run HELPDESK_DB_PREPARE_THRESHOLD times is prepared on the
    # server (psycopg's prepare_threshold), so PostgreSQL stops parsing and planning the hot
    # paths' statements on every call: under the widget burst planning was a third of
    # PostgreSQL's time (issue 8, log_min_duration_statement; docs/routing.md, Throughput).
    # Django turns it off by default for the sake of transaction-mode poolers (PgBouncer before
    # 1.21): set 0 behind one of those.
    _prepare_threshold = env.int("HELPDESK_DB_PREPARE_THRESHOLD", default=5)
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = _prepare_threshold or None
    # Django's psycopg pool: at most HELPDESK_DB_POOL_MAX connections per process, whatever the
    # number of requests and sockets; a caller that waits longer than the timeout for one gets
    # psycopg_pool.PoolTimeout, answered 503 / socket close 1013 (apps.core.unavailable). The
    # timeout (30 s) lets an ordinary burst queue: 200 requests at once take about 10 s to serve
    # on 2 cores, and the last of them waits that long for a connection.
    # Connections go back to the pool at the end of each request and each socket call
    # (apps.core.db.db_async), so CONN_MAX_AGE must be 0 with it. Defaults for one web process on
    # 2 cores: 16 is well above what one process (one core's worth of Python) keeps busy, and
    # leaves room in PostgreSQL's default max_connections (100) for a web process per core, the
    # Celery worker and beat (README, Deploying and scaling). HELPDESK_DB_POOL_MAX=0: no pool,
    # a connection per request or socket call, kept CONN_MAX_AGE seconds.
    DB_POOL_MAX = env.int("HELPDESK_DB_POOL_MAX", default=16)
    if DB_POOL_MAX > 0:
        if env.int("CONN_MAX_AGE", default=0) != 0:
            raise ImproperlyConfigured("CONN_MAX_AGE needs the pool off (HELPDESK_DB_POOL_MAX=0).")
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        # A pooled connection is checked (an empty query) when handed out only if it was given
        # back more than HELPDESK_DB_POOL_CHECK_AFTER seconds ago (0: every time, as Django's
        # CONN_HEALTH_CHECKS does): apps.core.postgres, issue 8.
        if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
            DATABASES["default"]["ENGINE"] = "apps.core.postgres"
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": min(env.int("HELPDESK_DB_POOL_MIN", default=2), DB_POOL_MAX),
            "max_size": DB_POOL_MAX,
            "timeout": env.float("HELPDESK_DB_POOL_TIMEOUT", default=30.0),
            "name": "helpdesk",
        }
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)

# Seconds a pooled connection may sit idle and still be handed out unchecked (see above).
HELPDESK_DB_POOL_CHECK_AFTER = env.float("HELPDESK_DB_POOL_CHECK_AFTER", default=5.0)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "guardian",
    "apps.core",
    "apps.shops",
    "apps.accounts",
    "apps.routing",
    "apps.shopdata",
    "apps.audit",
    "apps.integrations",
    "apps.events",
    "apps.conversations",
    "apps.automation",
    "apps.quickreplies",
    "apps.safety",
    "apps.backoffice",
    "apps.metrics",
    "apps.web",
]

MIDDLEWARE = [
    # First: load balancers probe by IP and over plain HTTP; answer before host checks and
    # the HTTPS redirect.
    "apps.core.middleware.HealthCheckMiddleware",
    # 503 + Retry-After when a view fails for want of a database connection or Redis.
    "apps.core.middleware.UnavailableMiddleware",
    # Request ids on every log line and answer, and latency by route for /metrics (SPEC I7).
    "apps.core.middleware.RequestIdMiddleware",
    "apps.core.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy (django-csp): no framing but the buyer widget's (apps.core.csp).
    "apps.core.csp.FrameAncestorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # SPEC I5: the audit log records the client's address of the changes a request makes.
    "apps.audit.context.AuditAddressMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: keeps the whole chain sync, one thread per request under ASGI (see its docstring).
    "apps.core.middleware.SyncViewsMiddleware",
]

# A strict Content-Security-Policy (issue 12): every script, style, image, font and socket from
# this site only, nothing inline (the pages have no inline script, style element or attribute;
# the API docs load their script from the split view's URL), no plugins; no page may be framed
# but the buyer widget, by its shop's widget_origins (apps.core.csp).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "media-src": ["'self'"],
        "worker-src": ["'self'"],
        "manifest-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.web.context_processors.shop_context",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.Account"
AUTHENTICATION_BACKENDS = [
    "apps.accounts.backends.ShopLoginBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# django-guardian: no anonymous user row (an account always belongs to a shop).
ANONYMOUS_USER_NAME = None
GUARDIAN_USER_OBJ_PERMS_MODEL = "accounts.ShopAccountPermission"

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:workbench"
LOGOUT_REDIRECT_URL = "web:login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Uploaded files (SPEC I1 images): on disk under MEDIA_ROOT by default, on an S3-compatible
# bucket when HELPDESK_S3_BUCKET is set. Never served from MEDIA_URL: every file goes through a
# view that checks who may see its conversation (apps.conversations.api.files).
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
MEDIA_URL = "/media/"  # unused: no route serves it
HELPDESK_S3_BUCKET = env.str("HELPDESK_S3_BUCKET", default="")
_default_storage: dict[str, object] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
if HELPDESK_S3_BUCKET:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": HELPDESK_S3_BUCKET,
            "endpoint_url": env.str("HELPDESK_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("HELPDESK_S3_REGION", default="") or None,
            "access_key": env.str("HELPDESK_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("HELPDESK_S3_SECRET_ACCESS_KEY", default="") or None,
            "location": env.str("HELPDESK_S3_PREFIX", default=""),
            "default_acl": "private",  # the bucket is never read directly, only by the view
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# I1: the largest image a buyer or an agent may send, in bytes (JPEG, PNG, WebP; 10 MB).
HELPDESK_IMAGE_MAX_BYTES = env.int("HELPDESK_IMAGE_MAX_BYTES", default=10 * 1024 * 1024)
# Pixels an image may have once decoded (Pillow's MAX_IMAGE_PIXELS): a small file that would
# decode to gigabytes (a decompression bomb) is refused before it is decoded.
HELPDESK_IMAGE_MAX_PIXELS = env.int("HELPDESK_IMAGE_MAX_PIXELS", default=40_000_000)
# An upload's request body above this is refused before it is read (413, JSON); below it, a
# file above the image limit is read and refused on its field (400). Files above
# FILE_UPLOAD_MAX_MEMORY_SIZE are spooled to a temporary file, not held in memory.
HELPDESK_UPLOAD_MAX_BODY_BYTES = env.int(
    "HELPDESK_UPLOAD_MAX_BODY_BYTES", default=2 * HELPDESK_IMAGE_MAX_BYTES + 1024 * 1024
)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Serve straight from the app folders when nothing was collected (development, tests).
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)
STATIC_ROOT.mkdir(exist_ok=True)
# WhiteNoise hands Django's ASGI handler a synchronous file iterator; Django then warns on every
# static file although it serves it correctly (in a thread). Put a CDN or the proxy in front of
# /static/ in production, as the README says.
warnings.filterwarnings(
    "ignore", message="StreamingHttpResponse must consume synchronous iterators"
)  # whitenoise warns about a missing root before collectstatic

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis connections of one process (README, Deploying and scaling): each pool (the cache, the
# channel layer on the server's event loop, the publisher's) holds at most REDIS_POOL_MAX
# connections; a caller waits up to REDIS_POOL_TIMEOUT seconds for one, then gets a
# ConnectionError (503 / socket close 1013). Celery's broker pool adds at most
# CELERY_BROKER_POOL_LIMIT.
REDIS_POOL_MAX = env.int("REDIS_POOL_MAX", default=20)
REDIS_POOL_TIMEOUT = env.float("REDIS_POOL_TIMEOUT", default=5.0)
CACHES: dict[str, dict[str, object]]
CHANNEL_LAYERS: dict[str, dict[str, object]]
if EMBEDDED:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
else:
    CACHES = {
        "default": {
            "BACKEND": "apps.core.cache.SharedRedisCache",  # one pool per process (its docstring)
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "helpdesk",
            # An unreachable Redis fails fast (a 503, apps.core.unavailable) instead of hanging.
            # At most REDIS_POOL_MAX connections; a thread waits REDIS_POOL_TIMEOUT for one.
            "OPTIONS": {
                "socket_connect_timeout": 3,
                "socket_timeout": 5,
                "pool_class": "redis.BlockingConnectionPool",
                "max_connections": REDIS_POOL_MAX,
                "timeout": REDIS_POOL_TIMEOUT,
            },
        }
    }
    # channels_redis's pub/sub layer (docs/realtime.md, decisions): a push is one PUBLISH and
    # arrives on the process's one subscriber connection, where the core layer spent four Redis
    # round trips per group_send and a blocking pop per receive (about 3 of the 15 ms of a
    # buyer's message at the median, issue 8). Pub/sub keeps nothing for an absent consumer;
    # every event is in the outbox and a socket fills any gap from there. Each event loop using
    # the layer (the server's, the publisher's in apps.core.realtime) holds two connections:
    # the subscriber and one for publishing.
    # Redis's pub/sub channels are one name space for the whole server, whatever the database
    # number: two deployments (a test run and a benchmark, staging and production) sharing one
    # Redis would hear each other's pushes. The prefix names the database, or whatever
    # HELPDESK_CHANNEL_PREFIX says.
    _redis_db = urllib.parse.urlsplit(REDIS_URL).path.strip("/") or "0"
    CHANNEL_PREFIX = env.str("HELPDESK_CHANNEL_PREFIX", default=f"helpdesk:{_redis_db}:asgi")
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [
                    {"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 3}
                ],
                "prefix": CHANNEL_PREFIX,
            },
        }
    }

SESSION_ENGINE = "django.contrib.sessions.backends.db"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.StaffTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "apps.core.schema.ErrorsAutoSchema",  # issue 12: error answers
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
    # JSON bodies within depth and length limits (apps.core.jsonlimits; issue 12, hardening).
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.parsers.LimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "auth": env.str("THROTTLE_AUTH", default="30/min"),
        "signup": env.str("THROTTLE_SIGNUP", default="10/hour"),
        "widget": env.str("THROTTLE_WIDGET", default="120/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS: dict[str, object] = {
    "TITLE": "Shop helpdesk API",
    "DESCRIPTION": "Multi-tenant live chat for online shops: staff, routing, widget, integration.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from our own static files: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per choice set where field names collide (status, entrance).
    "ENUM_NAME_OVERRIDES": {
        "AgentStatusEnum": "apps.routing.models.AgentStatus",
        "OrderStatusEnum": "apps.shopdata.models.OrderStatus",
        "EntranceEnum": "apps.conversations.models.Entrance",
        "AuditActionEnum": "apps.audit.models.AuditAction",  # SPEC I5
        "AuditTargetEnum": "apps.audit.models.AuditTarget",
        # I6's sensitive words have an `action` too: each choice set its own name.
        "SensitiveWordActionEnum": "apps.safety.models.WordAction",
    },
}

# Celery: Redis broker; tasks acknowledged after they ran, re-queued when a worker dies.
CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_POOL_LIMIT = env.int("CELERY_BROKER_POOL_LIMIT", default=10)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ALWAYS_EAGER = EMBEDDED
CELERY_TASK_EAGER_PROPAGATES = EMBEDDED
CELERY_TIMEZONE = "UTC"

# Real time (docs/realtime.md): how long the event streams are kept for resuming sockets, how
# often clients ping (at most; agents' sockets ping more often when the shop's grace is short),
# and the largest frame a client may send.
HELPDESK_EVENT_RETENTION_SECONDS = env.int("HELPDESK_EVENT_RETENTION_SECONDS", default=86400)
HELPDESK_WS_PING_SECONDS = env.float("HELPDESK_WS_PING_SECONDS", default=20.0)
HELPDESK_WS_MAX_FRAME_BYTES = env.int("HELPDESK_WS_MAX_FRAME_BYTES", default=65536)
# A socket ticket (POST /api/v1/ws-ticket/, apps.core.tickets) opens one socket within this time.
HELPDESK_WS_TICKET_SECONDS = env.int("HELPDESK_WS_TICKET_SECONDS", default=30)
# /metrics (Prometheus, apps.core.metrics): off unless a scraper's bearer token is set.
HELPDESK_METRICS_TOKEN = env.str("HELPDESK_METRICS_TOKEN", default="")
# Client JSON (REST bodies and socket frames; apps.core.jsonlimits): nesting depth, entries of any
# one list or object, and a request body's size beyond its files (413 beyond it).
HELPDESK_JSON_MAX_DEPTH = env.int("HELPDESK_JSON_MAX_DEPTH", default=20)
HELPDESK_JSON_MAX_ITEMS = env.int("HELPDESK_JSON_MAX_ITEMS", default=1000)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("HELPDESK_MAX_BODY_BYTES", default=1024 * 1024)
# Proxies whose X-Forwarded-For is believed (addresses or networks, comma-separated): the client's
# address for throttles and the audit log (apps.core.clientip). None by default: REMOTE_ADDR.
HELPDESK_TRUSTED_PROXIES = env.list("HELPDESK_TRUSTED_PROXIES", default=[])
# Threads that run the sockets' database work (apps.core.db.db_async), per process. Half the
# pool's default: sockets alone never take every connection, HTTP requests get the rest. More
# threads than this mostly wait on the GIL or on PostgreSQL's cores.
HELPDESK_WS_DB_THREADS = env.int("HELPDESK_WS_DB_THREADS", default=8)
# Threads that serve HTTP requests, per process (config.asgi): the pool's default size, so that a
# request rarely waits for a connection; more requests at once wait for a thread, holding nothing.
HELPDESK_HTTP_THREADS = env.int("HELPDESK_HTTP_THREADS", default=16)
# While a routing pass holds its shop's lock, this process's other request threads wait for it,
# at most this many milliseconds at a time: HTTP requests before starting, and whoever asked for a
# human after their decision (0: never): the lock is the bottleneck of a shop's burst
# (apps.core.precedence, docs/routing.md).
HELPDESK_PASS_PRECEDENCE_MS = env.int("HELPDESK_PASS_PRECEDENCE_MS", default=50)

# Webhooks (SPEC H4; docs/integrations.md). Addresses on private, loopback and link-local
# networks are refused unless this is set (tests, or the shop's systems on the same network).
HELPDESK_WEBHOOKS_ALLOW_PRIVATE = env.bool("HELPDESK_WEBHOOKS_ALLOW_PRIVATE", default=False)
# A failed delivery is retried after this many seconds, doubling, 8 attempts in all.
HELPDESK_WEBHOOK_RETRY_BASE_SECONDS = env.float("HELPDESK_WEBHOOK_RETRY_BASE_SECONDS", default=30)
# Finished deliveries and their attempts are kept this many days (the delivery log).
HELPDESK_WEBHOOK_LOG_DAYS = env.int("HELPDESK_WEBHOOK_LOG_DAYS", default=30)

# SPEC I6: messages one buyer may send (widget REST and socket alike; apps.safety.throttle), per
# shop and buyer: "20/min", "5/s", "600/hour"; "0" turns the limit off.
THROTTLE_BUYER_MESSAGES = env.str("THROTTLE_BUYER_MESSAGES", default="20/min")

# Shop defaults (SPEC A2).
HELPDESK_SUB_ACCOUNT_QUOTA = env.int("HELPDESK_SUB_ACCOUNT_QUOTA", default=20)
# SPEC G2: the live board's monitor.updated, coalesced after commit to at most one a second per
# shop (apps.core.coalesce, docs/metrics.md). Off: no board is pushed (the test suite turns it
# off but for the tests of the board; the page then shows what it read when it opened).
HELPDESK_COALESCE_ENABLED = env.bool("HELPDESK_COALESCE_ENABLED", default=True)

# Structured logs (SPEC I7): LOG_FORMAT=json writes one JSON object per line (the Docker image's
# default), with the request id of the HTTP request or socket that logged it (apps.core.logs).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "apps.core.logs.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Webhook deliveries: httpx logs every request's URL at INFO, and a shop's URL may hold
        # a token of its own; the delivery log has the outcome.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
