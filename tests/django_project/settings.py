"""A minimal Django project whose only job is sending mail through cdomail's backend.

The tests point EMAIL_HOST/EMAIL_PORT/... at a running lab with ``override_settings``.
"""

from __future__ import annotations

SECRET_KEY = "tests-only-not-a-secret"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["tests.django_project.mailapp"]
DATABASES: dict[str, dict[str, str]] = {}

EMAIL_BACKEND = "cdomail.django.EmailBackend"
DEFAULT_FROM_EMAIL = "Reports <reports@example.test>"
SERVER_EMAIL = "django@example.test"
ADMINS = [("Ops", "ops@example.test"), ("Night shift", "night@example.test")]
EMAIL_SUBJECT_PREFIX = "[mailapp] "
