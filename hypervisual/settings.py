"""The Hub's one settings module. Every value comes from the environment (see `.env.example`)."""

from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import environ
from celery.schedules import crontab, schedule
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.utils.translation import gettext_lazy as _
from whitenoise.compress import Compressor

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(str(BASE_DIR / ".env"))

# Demo mode is switched on by `make run` only when it starts the embedded servers.
HV_DEMO = env.bool("HV_DEMO", default=False)
DEBUG = env.bool("DJANGO_DEBUG", default=HV_DEMO)
# Required to serve: Django refuses to load the WSGI application without it. Management commands
# that sign nothing (migrate, makemigrations, shell) run without it.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
HV_DEMO_PASSWORD = env.str("HV_DEMO_PASSWORD", default="hypervisual-demo")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "finance",
    "integrations",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "finance.middleware.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "finance.middleware.IdleSessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "finance.middleware.SecondFactorMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "finance.middleware.CompanyScopeMiddleware",
    # Last, so that it sees the outcome of the authentication views.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "hypervisual.urls"
WSGI_APPLICATION = "hypervisual.wsgi.application"

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
                "finance.context_processors.company_scope",
            ],
            # `{% url %}` as Django's, its addresses kept per process (hypervisual.links): every template has it.
            "builtins": ["hypervisual.links"],
        },
    },
]

# Unset, DATABASE_URL and REDIS_URL point at the sockets of the embedded servers that `make run`
# starts under var/ (scripts/hub.py), so `manage.py` commands work beside a running Hub.
VAR_DIR = Path(env.str("HV_VAR_DIR", default=str(BASE_DIR / "var")))

# https://docs.djangoproject.com/en/5.2/ref/settings/#databases
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"postgres://postgres@/{VAR_DIR}/pgdata/hypervisual")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Threads per process reading the dashboard's partials side by side, each with a connection of its own
# (dashboard.concurrent); below 2, one after the other.
HV_DASHBOARD_READ_THREADS = env.int("HV_DASHBOARD_READ_THREADS", default=4)
# PostgreSQL's JIT compiles every larger query for hundreds of milliseconds: a loss for short web queries.
DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
# The Hub's connections name themselves: PostgreSQL triggers note every write to a shared table made by
# another writer (Directus, psql) so the Hub processes it (integrations.models.OutsideEdit).
DATABASE_APPLICATION_NAME = "hypervisual-hub"
DATABASES["default"]["OPTIONS"]["application_name"] = DATABASE_APPLICATION_NAME
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: Django cache, Celery broker, locks. A unix-socket URL (embedded Redis) is accepted.
REDIS_URL = env.str("REDIS_URL", default=f"unix://{VAR_DIR}/redis.sock?db=0")
# Seconds a Redis call may take before the page gives up on it (cache, health check).
REDIS_SOCKET_TIMEOUT = 2
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("HV_CACHE_PREFIX", default="hv"),
        "OPTIONS": {"socket_connect_timeout": REDIS_SOCKET_TIMEOUT, "socket_timeout": REDIS_SOCKET_TIMEOUT},
    }
}


def celery_broker_url(redis_url: str) -> str:
    """Translate a `unix://path?db=N` Redis URL into Celery's `redis+socket://` form."""
    parts = urlsplit(redis_url)
    if parts.scheme != "unix":
        return redis_url
    database = parse_qs(parts.query).get("db", ["0"])[0]
    return f"redis+socket://{parts.path}?virtual_host={database}"


# https://docs.celeryq.dev/en/stable/userguide/configuration.html
CELERY_BROKER_URL = celery_broker_url(REDIS_URL)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
# Action runs are stored in PostgreSQL; Celery keeps no results.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = False
# Hard ceiling for any task, in seconds; provider calls carry their own shorter timeouts.
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "Europe/Zurich"
# Seconds between worker heartbeats; /healthz reports the worker down after three missed beats.
HV_WORKER_HEARTBEAT_SECONDS = 20
# ERPNext is read into the Hub's snapshot tables this often; a snapshot older than that plus the grace is stale.
HV_ERPNEXT_SYNC_SECONDS = env.int("HV_ERPNEXT_SYNC_SECONDS", default=900)
HV_ERPNEXT_SYNC_GRACE_SECONDS = 120
# Directus answers /server/health to the Hub this often; the status bar shows the last answer.
HV_DIRECTUS_HEALTH_SECONDS = 60
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {
        "task": "integrations.tasks.worker_heartbeat",
        "schedule": schedule(timedelta(seconds=HV_WORKER_HEARTBEAT_SECONDS)),
        "options": {"expires": HV_WORKER_HEARTBEAT_SECONDS},
    },
    # Revolut balances, exchange rates and transactions missed by webhooks, every minute.
    "revolut-sync": {
        "task": "finance.tasks.revolut_sync_all",
        "schedule": schedule(timedelta(seconds=60)),
        "options": {"expires": 60},
    },
    # Invoice Ninja invoices and payments changed since the last run, compared with the Hub's.
    "invoice-ninja-reconcile": {
        "task": "finance.tasks.invoice_ninja_reconcile_all",
        "schedule": schedule(timedelta(minutes=10)),
        "options": {"expires": 600},
    },
    # Each company's daily dunning run starts at its own time (its policy): looked for every 5 minutes.
    "dunning-runs": {"task": "finance.tasks.dunning_runs_due", "schedule": crontab(minute="*/5")},
    # Action runs whose worker died and never came back are run again (their handlers are idempotent).
    "action-runs-resume": {"task": "integrations.actions.action_runs_resume_task", "schedule": crontab(minute="*/5")},
    # Quotes past their validity date become expired shortly after midnight, Swiss time.
    "quotes-expire": {"task": "finance.tasks.quotes_expire_daily", "schedule": crontab(hour=0, minute=15)},
    # The dashboard's history views follow the documents within five minutes (the cards of today read live).
    "dashboard-figures": {"task": "dashboard.tasks.figures_refresh", "schedule": crontab(minute="*/5")},
    # Pipeline and open projects keep no history of their own: written down every hour, the last one of a day stands.
    "dashboard-snapshots": {"task": "dashboard.tasks.figure_snapshots_record", "schedule": crontab(minute=55)},
    # ERPNext's stock, purchase orders, leave and suppliers, read into the snapshot tables.
    "erpnext-sync": {
        "task": "integrations.tasks.erpnext_sync_all",
        "schedule": schedule(timedelta(seconds=HV_ERPNEXT_SYNC_SECONDS)),
        "options": {"expires": HV_ERPNEXT_SYNC_SECONDS},
    },
    "directus-health": {
        "task": "integrations.tasks.directus_health_probe",
        "schedule": schedule(timedelta(seconds=HV_DIRECTUS_HEALTH_SECONDS)),
        "options": {"expires": HV_DIRECTUS_HEALTH_SECONDS},
    },
    # Safety net: edits made in Directus (or psql) whose event never reached the Hub are processed anyway.
    "outside-edits-sweep": {"task": "finance.tasks.outside_edits_sweep", "schedule": crontab(minute="*")},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses a locked-out address before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "login"

# Sessions end after this much inactivity (every request renews them) and at browser close.
SESSION_COOKIE_AGE = env.int("HV_SESSION_IDLE_MINUTES", default=120) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Login throttling (django-axes): after this many failures an address waits the cool-off.
AXES_FAILURE_LIMIT = env.int("HV_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("HV_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
# The CEO and finance sign in with a second factor (TOTP, or a recovery code); django-otp throttles the codes.
HV_MFA_REQUIRED = env.bool("HV_MFA_REQUIRED", default=True)
OTP_TOTP_ISSUER = "HYPERVISUAL Hub"
# The demo's CEO and finance authenticators share this key, printed by `make run` (demo data only).
HV_DEMO_TOTP_KEY = env.str("HV_DEMO_TOTP_KEY", default="3132333435363738393031323334353637383930")
# Number of reverse proxies in front of the Hub whose X-Forwarded-For is trusted.
AXES_IPWARE_PROXY_COUNT = env.int("HV_TRUSTED_PROXY_COUNT", default=0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
)

# TLS: on by default; `make run` switches it off for its plain-HTTP loopback server.
HV_HTTPS = env.bool("HV_HTTPS", default=True)
SESSION_COOKIE_SECURE = HV_HTTPS
CSRF_COOKIE_SECURE = HV_HTTPS
SECURE_SSL_REDIRECT = HV_HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = 31536000 if HV_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HV_HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HV_HTTPS else None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Scripts only from the Hub's own static files, never inline nor eval'd (htmx, Tabler, ApexCharts and the
# Hub's scripts all are files); styles may be inline: Tabler, htmx's indicators and ApexCharts set them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
    }
}
# No page of the Hub uses a device or payment API of the browser.
PERMISSIONS_POLICY = {
    "accelerometer": [], "camera": [], "geolocation": [], "gyroscope": [], "magnetometer": [], "microphone": [],
    "payment": [], "usb": [], "browsing-topics": [],
}  # fmt: skip

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("de", _("German")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Swiss formats in every language: 1'234.50 and 21.11.2026.
FORMAT_MODULE_PATH = ["hypervisual.formats"]
TIME_ZONE = "Europe/Zurich"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Browsers take the icon font as WOFF2; brotli on its three 1.8 MB TrueType fallbacks cost ~20 s of every start.
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = (*Compressor.SKIP_COMPRESS_EXTENSIONS, "ttf")
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("HV_MEDIA_ROOT", default=VAR_DIR / "media")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

# Fernet keys encrypting provider secrets at rest, comma-separated; the first encrypts, all decrypt
# (rotation). `make run` keeps its own in var/secrets_key.
HV_SECRETS_KEYS = env.list("HV_SECRETS_KEYS", default=[])
# Where providers reach this Hub: webhook URLs and OAuth redirect URIs are built on it.
HV_PUBLIC_URL = env.str("HV_PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")
# Directus, the admin layer on the same database (DESIGN.md §8): where it answers, the static admin token
# `manage.py directus_configure` uses, and the secret its Flow sends in X-Hub-Secret with every event.
HV_DIRECTUS_URL = env.str("HV_DIRECTUS_URL", default="http://127.0.0.1:8055").rstrip("/")
HV_DIRECTUS_TOKEN = env.str("HV_DIRECTUS_TOKEN", default="")
HV_DIRECTUS_WEBHOOK_SECRET = env.str("HV_DIRECTUS_WEBHOOK_SECRET", default="")
# Seconds an outside edit may wait for its Directus event before the safety net processes it itself.
HV_OUTSIDE_EDIT_GRACE_SECONDS = env.int("HV_OUTSIDE_EDIT_GRACE_SECONDS", default=60)
# Refused webhook requests kept per provider and company and hour; beyond it they are only counted.
HV_WEBHOOK_REFUSED_KEPT_PER_HOUR = env.int("HV_WEBHOOK_REFUSED_KEPT_PER_HOUR", default=100)
# How long a provider's open circuit refuses calls before a trial call (integrations/resilience.py), and the
# first wait before an action run retries a transient failure (doubling each time). The reliability suite
# shortens both; a deployment keeps the defaults.
HV_CIRCUIT_OPEN_SECONDS = env.int("HV_CIRCUIT_OPEN_SECONDS", default=60)
HV_ACTION_RETRY_BASE_SECONDS = env.int("HV_ACTION_RETRY_BASE_SECONDS", default=15)
# Provider emulators under /sandbox/<provider>/ (DESIGN.md §7); demo mode switches them on.
HV_SANDBOX = env.bool("HV_SANDBOX", default=HV_DEMO)
if HV_SANDBOX:
    # An app of its own, outside the product: the product never imports it (pyproject.toml, import-linter).
    INSTALLED_APPS.append("sandbox")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("HV_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # WeasyPrint narrates every PDF at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
