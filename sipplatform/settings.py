"""Django settings for the hosted SIP platform, read from the environment.

The same code runs embedded (``manage.py runplatform``: SQLite, in-memory channel layer, Celery
tasks executed in-process) and in production (PostgreSQL, Redis, separate processes); only these
variables differ. Bad values stop the process with ``ImproperlyConfigured`` naming the variable.

Environment variables (name, default, meaning):

``DEBUG`` (default ``false``)
    Django debug mode. Never on in production.
``SECRET_KEY`` (default: generated once into ``var/secret_key``, file mode 0600)
    Signing key. Set it (50+ random characters) when several processes or machines share it.
``ALLOWED_HOSTS`` (default ``127.0.0.1,localhost,[::1]``)
    Comma-separated host names the web app answers to.
``CSRF_TRUSTED_ORIGINS`` (default empty)
    Comma-separated origins (``https://portal.example.com``) allowed to POST through a proxy.
``DATABASE_URL`` (default ``sqlite:///var/platform.sqlite3``)
    ``postgres://user:pass@host:5432/name`` (psycopg 3) or ``sqlite:///path``.
``REDIS_URL`` (default unset)
    Set: Channels layer (channels_redis), Celery broker and result store. Unset: in-memory
    channel layer and Celery tasks run in-process (``CELERY_TASK_ALWAYS_EAGER``).
``SIP_LISTEN`` (default ``udp:127.0.0.1:5060,tcp:127.0.0.1:5060``)
    SIP sockets, ``transport:host:port`` comma-separated; IPv6 as ``udp:[::1]:5060``.
``SIP_DOMAIN`` (default: the host of the first ``SIP_LISTEN`` address)
    The SIP domain (digest realm) served by default; phones register as ``user@SIP_DOMAIN``.
    Required when the first ``SIP_LISTEN`` address is a wildcard (``0.0.0.0``, ``[::]``).
``SIP_DIGEST_ALGORITHMS`` (default ``SHA-256,MD5``)
    Digest algorithms offered to phones, most preferred first. RFC 8760 clients pick the first
    they support; some older phones (baresip 1.0, sipsak, SIPp) give up when the first
    challenge is SHA-256: ``MD5,SHA-256`` lets them register.
``SIP_OUTBOX_MAX_ROWS`` (default ``500000``)
    Call-detail and transfer-audit records a SIP worker keeps on local disk while the broker
    (Redis) is unreachable; past it new records are refused with a critical log line.
``SIP_SECURITY_REDIS_URL`` (default ``REDIS_URL``)
    Where SIP workers share failure counters and bans; unset with no ``REDIS_URL``: in-process.
``SIP_SECURITY_MAX_SOURCE_FAILURES`` (default ``10``)
    Failed authentications within the failure window that ban a source address.
``SIP_SECURITY_MAX_ACCOUNT_FAILURES`` (default ``30``)
    Failed authentications within the failure window that lock an account.
``SIP_SECURITY_FAILURE_WINDOW`` (default ``600``)
    Seconds over which failed authentications are counted.
``SIP_SECURITY_FIRST_BAN`` (default ``300``), ``SIP_SECURITY_BAN_GROWTH`` (``4``)
    Ban length in seconds: the first ban, multiplied by the growth per repeat offence...
``SIP_SECURITY_MAX_BAN`` (default ``604800``)
    ...and capped at this many seconds.
``SIP_SECURITY_DROP_SCANNERS`` (default ``true``), ``SIP_SECURITY_BAN_SCANNERS`` (``true``)
    Drop requests from known scanners (friendly-scanner, sipvicious, ...) and ban their source.
``SIP_SECURITY_REQUEST_RATE`` (default ``50``), ``SIP_SECURITY_REQUEST_BURST`` (``200``)
    Requests per second (and burst) one source address may send before being dropped.
``SIP_SECURITY_EXEMPT_NETWORKS`` (default ``127.0.0.0/8,::1/128``)
    Sources never rate-limited or banned: a load balancer in front, trusted provider trunks.
``SIP_SECURITY_FRONT_DOORS`` (default empty)
    The front doors (Kamailio, ``deploy/kamailio``) whose ``X-Sipplatform-Source`` header
    names the phone's address: bans and rate limits apply to the phone, never to them.
``PROVIDER_SECRETS_KEY`` (default: derived from ``SECRET_KEY`` with HKDF-SHA256)
    Fernet key(s) encrypting provider passwords at rest; comma-separated for rotation (the
    first encrypts, all decrypt). Changing ``SECRET_KEY`` while this is unset makes the stored
    provider passwords unreadable.
``SECURE_SSL_REDIRECT`` (default ``false``)
    The portal is served over HTTPS: with ``DEBUG`` off, redirect HTTP to HTTPS and turn on
    secure cookies and HSTS.
``SECURE_HSTS_SECONDS`` (default ``31536000``)
    HSTS max-age while ``SECURE_SSL_REDIRECT`` is on.
``SECURE_HSTS_PRELOAD`` (default ``false``)
    Ask browsers to preload HSTS (only when you mean it).
``TRUST_X_FORWARDED_PROTO`` (default ``false``)
    Trust ``X-Forwarded-Proto: https`` from the reverse proxy in front of daphne.
``LOG_LEVEL`` (default ``INFO``)
    Root log level.
``SIPPLATFORM_VAR_DIR`` (default ``<repo>/var``)
    Where the SQLite file and the generated secret key live.
"""

from pathlib import Path

from sipplatform.envconfig import (
    env_bool,
    env_database,
    env_digest_algorithms,
    env_fernet_keys,
    env_int,
    env_list,
    env_listen,
    env_sip_domain,
    env_str,
    load_or_create_secret_key,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("SIPPLATFORM_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "") or load_or_create_secret_key(VAR_DIR / "secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "sipplatform.customers",
    "sipplatform.directory",
    "sipplatform.providers",
    "sipplatform.dialplans",
    "sipplatform.calls",
    "sipplatform.monitor",
    "sipplatform.sipworker",
    "sipplatform.security",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "sipplatform.api",
    "webui",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "sipplatform.urls"
ASGI_APPLICATION = "sipplatform.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'platform.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "customers.User"
LOGIN_URL = "webui:login"
LOGIN_REDIRECT_URL = "webui:dashboard"
LOGOUT_REDIRECT_URL = "webui:login"
# Sign-in guessing: django-axes locks a username+address pair out after 5 failures for 15
# minutes (its backend must come first; a successful sign-in resets the count).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_USERNAME_CALLABLE = "sipplatform.security.signin.axes_username"  # fits its column
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "static_collected"

# Channels and Celery: Redis when configured, otherwise everything in this one process.
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
    # Shared by every web process: API throttles and login-guessing counters must add up.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "purge-stale-bindings": {
        "task": "sipplatform.directory.tasks.purge_stale_bindings",
        "schedule": 300.0,
    },
}

# SIP worker.
SIP_LISTEN = env_listen("SIP_LISTEN", "udp:127.0.0.1:5060,tcp:127.0.0.1:5060")
SIP_DOMAIN = env_sip_domain("SIP_DOMAIN", SIP_LISTEN)
SIP_SECURITY_REDIS_URL = env_str("SIP_SECURITY_REDIS_URL", REDIS_URL)
SIP_SECURITY_MAX_SOURCE_FAILURES = env_int("SIP_SECURITY_MAX_SOURCE_FAILURES", 10, minimum=1)
SIP_SECURITY_MAX_ACCOUNT_FAILURES = env_int("SIP_SECURITY_MAX_ACCOUNT_FAILURES", 30, minimum=1)
SIP_SECURITY_FAILURE_WINDOW = env_int("SIP_SECURITY_FAILURE_WINDOW", 600, minimum=1)
SIP_SECURITY_FIRST_BAN = env_int("SIP_SECURITY_FIRST_BAN", 300, minimum=1)
SIP_SECURITY_BAN_GROWTH = env_int("SIP_SECURITY_BAN_GROWTH", 4, minimum=1)
SIP_SECURITY_MAX_BAN = env_int("SIP_SECURITY_MAX_BAN", 7 * 86400, minimum=1)
SIP_SECURITY_DROP_SCANNERS = env_bool("SIP_SECURITY_DROP_SCANNERS", True)
SIP_SECURITY_BAN_SCANNERS = env_bool("SIP_SECURITY_BAN_SCANNERS", True)
SIP_SECURITY_REQUEST_RATE = env_int("SIP_SECURITY_REQUEST_RATE", 50, minimum=1)
SIP_SECURITY_REQUEST_BURST = env_int("SIP_SECURITY_REQUEST_BURST", 200, minimum=1)
SIP_SECURITY_EXEMPT_NETWORKS = env_list("SIP_SECURITY_EXEMPT_NETWORKS", ["127.0.0.0/8", "::1/128"])
SIP_SECURITY_FRONT_DOORS = env_list("SIP_SECURITY_FRONT_DOORS", [])
SIP_OUTBOX_MAX_ROWS = env_int("SIP_OUTBOX_MAX_ROWS", 500_000, minimum=1000)
SIP_DIGEST_ALGORITHMS = env_digest_algorithms("SIP_DIGEST_ALGORITHMS", ["SHA-256", "MD5"])
PROVIDER_SECRETS_KEYS = env_fernet_keys("PROVIDER_SECRETS_KEY", SECRET_KEY)

# Provisioning REST API (sipplatform.api): Bearer API tokens or the portal session, JSON only.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "sipplatform.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["sipplatform.api.permissions.IsTenantUser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["sipplatform.api.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "sipplatform.api.pagination.ObjectPagination",
    "DEFAULT_THROTTLE_CLASSES": ["sipplatform.api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api": "600/minute"},
    "DEFAULT_SCHEMA_CLASS": "sipplatform.api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "sipplatform.api.exceptions.api_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SIP platform provisioning API",
    "DESCRIPTION": "Provision SIP accounts, providers, dialplans and policy; read registrations, "
    "call detail records and transfer audit records. Authenticate with "
    "`Authorization: Bearer <API token>`.",
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# HTTPS hardening: on when not debugging and the operator says the site is served over HTTPS.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False) and not DEBUG
SESSION_COOKIE_SECURE = SECURE_SSL_REDIRECT
CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000) if SECURE_SSL_REDIRECT else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_SSL_REDIRECT
SECURE_HSTS_PRELOAD = SECURE_SSL_REDIRECT and env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO").upper()},
}
