"""Titrate settings, read strictly from the environment (see README "Configuration")."""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from clinic.envconf import DATABASE_SCHEMES, EMAIL_SCHEMES, LOG_LEVELS, REDIS_SCHEMES, Env, tel_link

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="django-insecure-titrate-local-development-only-key")
else:
    # No default: a production server must never run on a key from the repository.
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", required=True)

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "crispy_forms",
    "crispy_bootstrap5",
    "phonenumber_field",
    "django_celery_beat",
    "oauth2_provider",
    "clinic",
    "patients",
    "medications",
    "appointments",
    "notifications",
    "records",
    "demo",
    "interop",
]

MIDDLEWARE = [
    # First: every line logged while a request runs carries its id (clinic/logs.py).
    "clinic.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "clinic.middleware.NoStoreForSessionsMiddleware",
    "clinic.middleware.PermissionsPolicyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "clinic.middleware.SessionExpiredMessageMiddleware",
    "clinic.middleware.SessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "clinic.middleware.StaffMFARequiredMiddleware",
    "clinic.access.AccessPolicyMiddleware",
    "clinic.middleware.UserTimezoneMiddleware",
    "clinic.middleware.UserLanguageMiddleware",
    "clinic.middleware.PostOnlyAddressMiddleware",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # Our filters (|mg, and the date filters of clinic/dates.py) in every template.
            "builtins": ["clinic.templatetags.titrate"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "clinic.context_processors.navigation",
                "notifications.badge.unread_notifications",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
VAR_DIR.mkdir(exist_ok=True)
DATABASE_URL = env.url("DATABASE_URL", DATABASE_SCHEMES, default=f"sqlite:///{VAR_DIR / 'titrate.sqlite3'}")
DATABASES = {"default": environ.Env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file in the zero-setup mode: WAL lets readers
    # run beside a writer, IMMEDIATE takes the write lock up front so two writers
    # wait for each other instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # PostgreSQL's JIT spent ~3 s compiling the psychiatrist home's plan at 20k patients while
    # the query itself runs in milliseconds (docs/performance.md): short OLTP queries never win.
    # random_page_cost: the server default (4) prices a random read as on a spinning disk, so the
    # planner hashed the whole patient table rather than probe a caseload's 333 ids by index; 1.1
    # is the usual figure for SSD or cached storage.
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c jit=off -c random_page_cost=1.1".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, broker --------------------------------------------------------
REDIS_URL = env.url("REDIS_URL", REDIS_SCHEMES)
# Rate limits and used MFA codes live in the cache. With Redis down the default cache answers from
# a database table instead (clinic/cache.py), so sign-in keeps its limits rather than failing.
FALLBACK_CACHE = {
    "BACKEND": "django.core.cache.backends.db.DatabaseCache",
    "LOCATION": "clinic_cache_fallback",  # made by migration clinic 0017
    "KEY_PREFIX": "titrate",
}
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "clinic.cache.FailoverCache", "OPTIONS": {"PRIMARY": "redis", "FALLBACK": "database"}},
        "redis": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "titrate",
            # A Redis that stopped answering must fail over in seconds, not hang the request.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        },
        "database": FALLBACK_CACHE,
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than the longest task time limit, so a running task is never
        # handed to a second worker while the first still works on it.
        "visibility_timeout": 3600,
    }
else:
    # A file cache, not LocMem: rate limits must hold across web processes.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    for _folder in ("cache", "celery/queue", "celery/processed", "celery/control"):
        (VAR_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_RESULT_BACKEND = None
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(VAR_DIR / "celery" / "queue"),
        "data_folder_out": str(VAR_DIR / "celery" / "queue"),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        # Kombu's default is ./control, which would litter the working directory.
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }

# --- Celery (see clinic/celery.py for how these are applied) --------------
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Auth -----------------------------------------------------------------
AUTH_USER_MODEL = "clinic.User"
AUTHENTICATION_BACKENDS = [
    # Django's and allauth's, refusing the demo clinic's published logins unless TITRATE_DEMO_ALLOWED.
    "clinic.auth_backends.ModelBackend",
    "clinic.auth_backends.AuthenticationBackend",
]
# The synthetic demo clinic (`manage.py seed_demo`) and its published logins: development only.
# Decided here, from DJANGO_DEBUG, because Django's test runner turns settings.DEBUG off at run time.
TITRATE_DEMO_ALLOWED = DEBUG
TITRATE_PASSWORD_MIN_STAFF = 12
TITRATE_PASSWORD_MIN_PATIENT = 8
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # Length by role (clinic/passwords.py: staff 12, patients 8); no composition rules (ASVS 6.2.5).
    {"NAME": "clinic.passwords.RoleLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

ACCOUNT_ADAPTER = "clinic.adapters.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
# ASVS 7.5.1: ask for the password (or the second factor) again before an email change; the
# password change form asks for the current password, and allauth's MFA pages reauthenticate.
ACCOUNT_REAUTHENTICATION_REQUIRED = True
ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_PREVENT_ENUMERATION = True
# Public sign-up is off: patients join by invitation from the clinic (today a clinic admin makes
# the account and links it to the record). A clinic that opens it gets the same answer, the same
# email and the same password-hashing work for a new address and for one that has an account
# (clinic/account_forms.py), so sign-up cannot tell who is a patient or staff member here.
TITRATE_SIGNUP_OPEN = env.bool("TITRATE_SIGNUP_OPEN", default=False)
ACCOUNT_FORMS = {"signup": "clinic.account_forms.ConstantTimeSignupForm"}
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Titrate] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
# The client address (rate limits, audit rows, sessions list; clinic.audit.client_ip): with N
# proxies of ours in front (load balancer, nginx), the address the outermost one saw, read from
# X-Forwarded-For counting N from the right. 0: REMOTE_ADDR, and X-Forwarded-For is ignored.
TITRATE_TRUSTED_PROXIES = env.int("TITRATE_TRUSTED_PROXIES", default=0, minimum=0)
ALLAUTH_TRUSTED_PROXY_COUNT = TITRATE_TRUSTED_PROXIES
# Only failures spend a budget (issue 18): correct sign-ins from one address — a clinic behind one
# proxy or NAT on a busy morning — are never counted. Per account: 5 failures per 5 minutes
# (allauth reserves one before the password check and returns it on success). Per address:
# 10 failures a minute, checked before the password and spent by a failure only
# (clinic.adapters.AccountAdapter). allauth's "login" limit counted every attempt, correct ones
# too, so it is off; refused attempts cost no password hash, since the check comes first.
ACCOUNT_RATE_LIMITS = {
    "login_failed": "5/5m/key",
    "login_failed_address": "10/m/ip",
    "login": "",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/3m/key",
    "change_password": "5/m/user",
    "reauthenticate": "10/m/user",
}

MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = False
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
MFA_TOTP_ISSUER = "Titrate"
# RFC 6238 §5.2: accept the previous/next 30 s step, so a code typed as it rolls over
# still works. A code is then good for up to 90 s, while allauth remembers a used one for 30 s
# only: our forms remember the last step each authenticator accepted (clinic/mfa_forms.py), so a
# code never opens a second session.
MFA_TOTP_TOLERANCE = 1
MFA_FORMS = {
    "authenticate": "clinic.mfa_forms.SingleUseAuthenticateForm",
    "reauthenticate": "clinic.mfa_forms.SingleUseReauthenticateForm",
}
MFA_ADAPTER = "clinic.adapters.MFAAdapter"

# --- Sessions, cookies, security headers ----------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 12 * 60 * 60
# SESS-1 (ASVS 7.3): idle and absolute lifetimes, enforced by clinic.middleware.SessionTimeoutMiddleware.
TITRATE_IDLE_MINUTES_STAFF = env.int("TITRATE_IDLE_MINUTES_STAFF", default=15, minimum=1)
TITRATE_IDLE_MINUTES_PATIENT = env.int("TITRATE_IDLE_MINUTES_PATIENT", default=30, minimum=1)
TITRATE_SESSION_ABSOLUTE_HOURS = env.int("TITRATE_SESSION_ABSOLUTE_HOURS", default=12, minimum=1)
# allauth.usersessions lists a user's signed-in sessions so they can end the others; the
# session row is written at login only (no per-request write).
USERSESSIONS_TRACK_ACTIVITY = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Flash messages name people ("Successfully signed in as <name>", "Saved <patient>'s details"): kept
# in the server-side session, never in a cookie (a signed cookie is readable, not encrypted).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "clinic.views.csrf_failure"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# DEP: a strict CSP on every response (django-csp, csp.middleware.CSPMiddleware).
# The keywords are written out (csp.constants has the same strings) so that importing the
# settings never needs the package: a missing install then fails at the middleware, by name.
_SELF, _NONE = "'self'", "'none'"
# No 'unsafe-inline' anywhere: templates carry no style="" attributes, inline <script> code or
# on*= handlers (tests/clinic/test_csp.py scans them); data reaches JS through json_script.
# img-src allows data: for the TOTP QR code on the MFA setup page.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_SELF],
        "script-src": [_SELF],
        "style-src": [_SELF],
        "img-src": [_SELF, "data:"],
        "font-src": [_SELF],
        "connect-src": [_SELF],
        "frame-ancestors": [_NONE],
        "form-action": [_SELF],
        "base-uri": [_NONE],
        "object-src": [_NONE],
    },
}
# Browser features the portal never uses are denied to every page and frame
# (clinic.middleware.PermissionsPolicyMiddleware). Nothing under static/ asks for them; the one
# powerful feature it uses is WebAuthn (allauth's security-key pages), allowed for our own origin.
PERMISSIONS_POLICY = {
    **dict.fromkeys(
        (
            "accelerometer",
            "autoplay",
            "bluetooth",
            "browsing-topics",
            "camera",
            "display-capture",
            "geolocation",
            "gyroscope",
            "hid",
            "idle-detection",
            "magnetometer",
            "microphone",
            "midi",
            "payment",
            "screen-wake-lock",
            "serial",
            "usb",
            "xr-spatial-tracking",
        ),
        "()",
    ),
    "publickey-credentials-create": "(self)",
    "publickey-credentials-get": "(self)",
}
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    # Load balancers probe /healthz over plain HTTP inside the private network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Request size (docs/security.md, "Input limits") ------------------------
# Django's defaults, stated: the largest form (an evaluation, 160,200 characters of text) is
# under 2 MB even with every character a percent-encoded 4-byte one, so a larger body is refused
# (400) before it is read; 1,000 fields is fifty times the largest form's.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
# The portal takes no files: a multipart body's first file part is refused (400) before it is
# written anywhere, so no upload reaches memory or a temporary file.
DATA_UPLOAD_MAX_NUMBER_FILES = 0
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- Email ----------------------------------------------------------------
EMAIL_URL = env.url("EMAIL_URL", EMAIL_SCHEMES, default="consolemail://" if DEBUG else None)
if EMAIL_URL is None:
    raise ImproperlyConfigured("EMAIL_URL must be set when DJANGO_DEBUG is off (e.g. smtp+tls://user:pass@host:587).")
_email = environ.Env.email_url_config(EMAIL_URL)
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
EMAIL_PORT = _email["EMAIL_PORT"] or 25
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_FILE_PATH = _email["EMAIL_FILE_PATH"] or str(VAR_DIR / "mail")
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Titrate <no-reply@titrate.invalid>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- I18N, time -----------------------------------------------------------
LANGUAGE_CODE = "en-us"
# Patients read Titrate in English or Spanish (issue 22, docs/i18n.md); staff pages are English.
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "titrate_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SECURE = not DEBUG
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
# Stored in UTC, always; shown in the viewer's zone (clinic.middleware).
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
TITRATE_DEFAULT_TIME_ZONE = env.time_zone("TITRATE_DEFAULT_TIME_ZONE", default="America/New_York")

# --- Static files ---------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every start without it
# Served at the site's root (/favicon.ico, which browsers and tools ask for unprompted).
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Logging: no PHI, ever. Log ids and event names, not names or notes. ---
LOG_LEVEL = env.choice("DJANGO_LOG_LEVEL", LOG_LEVELS, default="INFO")
# json: one object a line with the request id (clinic/logs.py), for a log collector; plain: for a
# person at a terminal (the default with DEBUG on, i.e. `make run`).
LOG_FORMAT = env.choice("DJANGO_LOG_FORMAT", frozenset({"json", "plain"}), default="plain" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "clinic.logs.JsonLogFormatter"},
    },
    # Calendar-feed and other secret URL segments are masked in every line (clinic/logmask.py);
    # every line carries the request id (or "-").
    "filters": {
        "mask_secrets": {"()": "clinic.logmask.MaskSecretsFilter"},
        "request_id": {"()": "clinic.logs.RequestIdFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["mask_secrets", "request_id"],
        },
        # Errors by email to ADMINS (empty: none sent), without the request's data (clinic/errortracking.py).
        "mail_admins": {
            "class": "clinic.errortracking.AdminErrorEmailHandler",
            "level": "ERROR",
            "filters": ["mask_secrets", "request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Django's own handlers for these (its DEBUG console, runserver's request lines) would
        # bypass the mask: without them the records reach the root's handler.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
        "django.request": {"handlers": ["mail_admins"], "level": "INFO", "propagate": True},
        # A task that raised (Celery logs it here, on the worker).
        "celery.app.trace": {"handlers": ["mail_admins"], "level": "INFO", "propagate": True},
        # PDF rendering (clinic/pdf.py): WeasyPrint's progress lines and fontTools' subsetting
        # lines (which list the glyphs a patient's document used) stay out of the logs.
        "weasyprint": {"level": "ERROR"},
        "fontTools": {"level": "WARNING"},
        # The OAuth server (the FHIR API, docs/api.md): oauthlib's and the toolkit's DEBUG lines
        # carry request bodies, codes and tokens. Warnings and errors only, never a token.
        "oauthlib": {"level": "WARNING"},
        "oauth2_provider": {"level": "WARNING"},
    },
}

# Who gets the error emails: comma-separated addresses (empty: nobody).
ADMINS = [(address, address) for address in env.list("DJANGO_ADMINS", default=[])]

# Optional error tracking (clinic/errortracking.py): PII off, every event scrubbed, a cron check-in
# for each safety task.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="development" if DEBUG else "production")
SENTRY_RELEASE = env.str("SENTRY_RELEASE", default="")
if SENTRY_DSN:
    from clinic.errortracking import init_sentry
    from clinic.schedules import SAFETY_TASKS

    init_sentry(SENTRY_DSN, environment=SENTRY_ENVIRONMENT, release=SENTRY_RELEASE, safety_tasks=SAFETY_TASKS)

# --- Health checks (clinic/health.py, docs/operations.md) --------------------------------------
# /healthz fails when the oldest due notification has waited longer than this (the dispatcher
# runs every minute), when the beat heartbeat (every minute) is older than this, and when no
# worker answers a ping within this many seconds.
TITRATE_HEALTH_OUTBOX_MAX_AGE_SECONDS = env.int("TITRATE_HEALTH_OUTBOX_MAX_AGE_SECONDS", default=600, minimum=1)
TITRATE_HEALTH_BEAT_MAX_AGE_SECONDS = env.int("TITRATE_HEALTH_BEAT_MAX_AGE_SECONDS", default=180, minimum=1)
TITRATE_HEALTH_WORKER_TIMEOUT_SECONDS = env.int("TITRATE_HEALTH_WORKER_TIMEOUT_SECONDS", default=1, minimum=1)

PHONENUMBER_DEFAULT_REGION = "US"
PHONENUMBER_DEFAULT_FORMAT = "NATIONAL"

# --- Reminders and notifications (docs/reminders.md) -----------------------
# Absolute links in emails and texts. In production it defaults to the first trusted origin,
# else https://<first allowed host>, so a reminder never links to localhost.
TITRATE_BASE_URL = env.str(
    "TITRATE_BASE_URL",
    default="http://localhost:8000"
    if DEBUG
    else (CSRF_TRUSTED_ORIGINS[0] if CSRF_TRUSTED_ORIGINS else f"https://{ALLOWED_HOSTS[0].lstrip('.')}"),
)
if not TITRATE_BASE_URL.startswith(("https://", "http://")) or "*" in TITRATE_BASE_URL:
    raise ImproperlyConfigured("TITRATE_BASE_URL must be the portal's address, e.g. https://titrate.example.org.")
TITRATE_CLINIC_NAME = env.str("TITRATE_CLINIC_NAME", default="Titrate clinic")
# Shown wherever the portal or a message asks a patient to call the clinic (a patient in crisis may
# dial it), so a real deployment must name its own: required when debug is off. The demo's is in
# the 555-01xx range, reserved for fiction.
DEMO_CLINIC_PHONE = "(617) 555-0100"
TITRATE_CLINIC_PHONE = env.phone(
    "TITRATE_CLINIC_PHONE", PHONENUMBER_DEFAULT_REGION, default=DEMO_CLINIC_PHONE, required=not DEBUG
)
TITRATE_CLINIC_PHONE_LINK = tel_link(TITRATE_CLINIC_PHONE, PHONENUMBER_DEFAULT_REGION)
# --- Safety alerts (docs/alerts.md) ----------------------------------------
# An urgent/emergency alert nobody on the care team acknowledged within this many minutes is
# escalated, once, to the on-call contact.
TITRATE_ALERT_ESCALATE_MINUTES = env.int("TITRATE_ALERT_ESCALATE_MINUTES", default=60, minimum=1)
# Emergency ("break-glass") access to a chart outside one's care team lasts this long (docs/security.md).
TITRATE_BREAK_GLASS_MINUTES = env.int("TITRATE_BREAK_GLASS_MINUTES", default=60, minimum=1)
# Clinic metrics (docs/metrics.md): a cancellation less than this many hours before the start is a
# late cancel, counted with no-shows as a visit the slot could not be given to someone else.
TITRATE_LATE_CANCEL_HOURS = env.int("TITRATE_LATE_CANCEL_HOURS", default=24, minimum=1)
# The metrics pages add up the nightly count's days (clinic.metrics_count, "Count clinic metrics")
# counted less than this many hours ago; an older day (a missed night) is counted live again.
TITRATE_METRICS_COUNT_MAX_AGE_HOURS = env.int("TITRATE_METRICS_COUNT_MAX_AGE_HOURS", default=30, minimum=1)
# An emailed invitation to make an account (clinic.invitations) works for this many days.
TITRATE_INVITATION_DAYS = env.int("TITRATE_INVITATION_DAYS", default=7, minimum=1)
# More emergency accesses than this by one psychiatrist in 24 hours need a second psychiatrist to
# co-sign (patients.break_glass).
TITRATE_BREAK_GLASS_DAILY_CAP = env.int("TITRATE_BREAK_GLASS_DAILY_CAP", default=3, minimum=1)
# Login email of the on-call clinician (an active psychiatrist or clinic admin). Unset, or not
# an active staff user at escalation time: every active clinic admin is told instead.
TITRATE_ON_CALL_EMAIL = (env.str("TITRATE_ON_CALL_EMAIL", default="") or "").lower()
if TITRATE_ON_CALL_EMAIL:
    from django.core.exceptions import ValidationError as _ValidationError
    from django.core.validators import validate_email as _validate_email

    try:
        _validate_email(TITRATE_ON_CALL_EMAIL)
    except _ValidationError:
        raise ImproperlyConfigured("TITRATE_ON_CALL_EMAIL must be the on-call clinician's login email.") from None
# A claimed row belongs to one worker for this long; longer than the task time limit, so a
# live send is never taken over. Also the broker message's expiry.
TITRATE_NOTIFICATION_LEASE_SECONDS = env.int("TITRATE_NOTIFICATION_LEASE_SECONDS", default=300, minimum=120)
TITRATE_NOTIFICATION_MAX_ATTEMPTS = env.int("TITRATE_NOTIFICATION_MAX_ATTEMPTS", default=5, minimum=1)
TITRATE_NOTIFICATION_RETRY_BASE_SECONDS = env.int("TITRATE_NOTIFICATION_RETRY_BASE_SECONDS", default=60, minimum=1)
TITRATE_SMS_BACKEND = env.choice("SMS_BACKEND", frozenset({"console", "file", "twilio", "http"}), default="console")
TITRATE_SMS_FILE_DIR = env.str("SMS_FILE_DIR", default=str(VAR_DIR / "sms"))
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
# SMS_BACKEND=http: a gateway that honours an Idempotency-Key header (notifications/channels.py).
TITRATE_SMS_HTTP_URL = env.str("SMS_HTTP_URL", default="")
TITRATE_SMS_HTTP_TOKEN = env.str("SMS_HTTP_TOKEN", default="")
TITRATE_SMS_HTTP_TIMEOUT = env.int("SMS_HTTP_TIMEOUT_SECONDS", default=10, minimum=1)
if TITRATE_SMS_BACKEND == "http" and not TITRATE_SMS_HTTP_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("SMS_HTTP_URL must be the gateway's address when SMS_BACKEND=http.")
if TITRATE_SMS_BACKEND == "twilio":
    for _name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"):
        if not globals()[_name]:
            raise ImproperlyConfigured(f"{_name} must be set when SMS_BACKEND=twilio.")

# --- Measurement-based care: reassessment prompts (medications/reassessment.py) ---
# Questionnaires every N weeks while a medication was started, changed or stopped in the last
# TITRATE_REASSESS_RECENT_WEEKS weeks, every TITRATE_REASSESS_STABLE_WEEKS weeks otherwise,
# and TITRATE_REASSESS_AFTER_CHANGE_WEEKS weeks after each start or dose change.
TITRATE_REASSESS_ACTIVE_WEEKS = env.int("TITRATE_REASSESS_ACTIVE_WEEKS", default=2, minimum=1)
TITRATE_REASSESS_STABLE_WEEKS = env.int("TITRATE_REASSESS_STABLE_WEEKS", default=8, minimum=1)
TITRATE_REASSESS_AFTER_CHANGE_WEEKS = env.int("TITRATE_REASSESS_AFTER_CHANGE_WEEKS", default=2, minimum=1)
TITRATE_REASSESS_RECENT_WEEKS = env.int("TITRATE_REASSESS_RECENT_WEEKS", default=12, minimum=1)
# "Prescription review due" this many weeks after a start or dose change (the usual window is 4–6).
TITRATE_RX_REVIEW_WEEKS = env.int("TITRATE_RX_REVIEW_WEEKS", default=4, minimum=1)
# Patient-reported adherence (medications.adherence): a check-in every TITRATE_ADHERENCE_DAYS days
# ("in the last N days, how many days did you miss a dose?"), at most 31.
TITRATE_ADHERENCE_DAYS = env.int("TITRATE_ADHERENCE_DAYS", default=7, minimum=1)
if TITRATE_ADHERENCE_DAYS > 31:
    raise ImproperlyConfigured(f"TITRATE_ADHERENCE_DAYS={TITRATE_ADHERENCE_DAYS} must be at most 31.")
# A patient's downloadable record (records.requests): its link works this many hours (1-168), then
# the file is deleted by the sweep (docs/records.md).
TITRATE_RECORD_LINK_HOURS = env.int("TITRATE_RECORD_LINK_HOURS", default=24, minimum=1)
if TITRATE_RECORD_LINK_HOURS > 168:
    raise ImproperlyConfigured(f"TITRATE_RECORD_LINK_HOURS={TITRATE_RECORD_LINK_HOURS} must be at most 168.")
# Instruments a clinic has not cleared for electronic use (e.g. "asrs_a,mdq"): not offered.
TITRATE_DISABLED_INSTRUMENTS = env.list("TITRATE_DISABLED_INSTRUMENTS", default=[])
if set(TITRATE_DISABLED_INSTRUMENTS) - {"phq9", "gad7", "phq2", "gad2", "asrs_a", "mdq", "aims"}:
    raise ImproperlyConfigured(
        "TITRATE_DISABLED_INSTRUMENTS takes instrument codes: phq9, gad7, phq2, gad2, asrs_a, mdq, aims."
    )

# --- FHIR API and SMART on FHIR (docs/api.md) ----------------------------------------------------
# Access tokens are short-lived (seconds); an app that asked for offline_access gets a refresh token
# valid this many days. Authorization codes live a minute: the app swaps them at once.
TITRATE_FHIR_ACCESS_TOKEN_SECONDS = env.int("TITRATE_FHIR_ACCESS_TOKEN_SECONDS", default=600, minimum=60)
TITRATE_FHIR_REFRESH_TOKEN_DAYS = env.int("TITRATE_FHIR_REFRESH_TOKEN_DAYS", default=30, minimum=1)
OAUTH2_PROVIDER = {
    "PKCE_REQUIRED": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": TITRATE_FHIR_ACCESS_TOKEN_SECONDS,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "REFRESH_TOKEN_EXPIRE_SECONDS": TITRATE_FHIR_REFRESH_TOKEN_DAYS * 24 * 3600,
    "ROTATE_REFRESH_TOKEN": True,
    "SCOPES_BACKEND_CLASS": "interop.smart.SmartScopes",
    "OAUTH2_VALIDATOR_CLASS": "interop.smart.SmartValidator",
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"] if not DEBUG else ["https", "http"],
    # Every app asks the user each time (the consent screen); no silent re-approval.
    "REQUEST_APPROVAL_PROMPT": "force",
    # The OAuth 2.0 Security BCP (RFC 9700) throughout: no implicit or password grant, PKCE S256
    # only, tokens only in the Authorization header, `iss` in the authorization response, tokens
    # stored hashed (a database dump holds no usable token), a replayed refresh token revokes its
    # whole family.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
}
# OpenID Connect for SMART's `openid fhirUser` (an id_token naming the user's FHIR record): on when
# a signing key is set, an RSA private key in PEM (newlines written as \n). Off, apps get no id_token.
TITRATE_OIDC_RSA_PRIVATE_KEY = env.str("TITRATE_OIDC_RSA_PRIVATE_KEY", default="").replace("\\n", "\n")
if TITRATE_OIDC_RSA_PRIVATE_KEY:
    OAUTH2_PROVIDER |= {
        "OIDC_ENABLED": True,
        "OIDC_RSA_PRIVATE_KEY": TITRATE_OIDC_RSA_PRIVATE_KEY,
        "OIDC_ISS_ENDPOINT": TITRATE_BASE_URL.rstrip("/"),
    }
