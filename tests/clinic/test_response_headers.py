"""Cache-Control and Permissions-Policy (issue 18 item 5). Every route × persona is checked in
tests/test_access_matrix.py; these are the cases the matrix does not reach."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import timezone

from tests.factories import DEMO_LIKE_PASSWORD
from tests.helpers import log_in

pytestmark = pytest.mark.django_db

# The script APIs (and, for autoplay, the media elements) behind each denied feature.
FEATURE_APIS = {
    "accelerometer": r"\bAccelerometer\b|DeviceMotionEvent|devicemotion",
    "autoplay": r"<(?:video|audio)\b|\.play\(\)",
    "bluetooth": r"navigator\.bluetooth",
    "browsing-topics": r"browsingTopics",
    "camera": r"getUserMedia|mediaDevices",
    "display-capture": r"getDisplayMedia",
    "geolocation": r"\bgeolocation\b",
    "gyroscope": r"\bGyroscope\b|DeviceOrientationEvent|deviceorientation",
    "hid": r"navigator\.hid",
    "idle-detection": r"IdleDetector",
    "magnetometer": r"\bMagnetometer\b",
    "microphone": r"getUserMedia|mediaDevices",
    "midi": r"requestMIDIAccess",
    "payment": r"PaymentRequest",
    "screen-wake-lock": r"wakeLock",
    "serial": r"navigator\.serial",
    "usb": r"navigator\.usb",
    "xr-spatial-tracking": r"navigator\.xr",
}


def policy(response) -> dict[str, str]:
    return dict(item.strip().split("=", 1) for item in response["Permissions-Policy"].split(","))


def no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def test_the_policy_denies_what_the_portal_does_not_use_and_keeps_security_keys(client):
    denied = policy(client.get(reverse("account_login")))

    for feature in ("camera", "microphone", "geolocation", "payment", "usb", "display-capture", "serial"):
        assert denied[feature] == "()", feature
    # allauth's security-key pages call navigator.credentials on our own origin.
    assert denied["publickey-credentials-get"] == denied["publickey-credentials-create"] == "(self)"
    assert set(FEATURE_APIS) == {feature for feature, allow in denied.items() if allow == "()"}


def test_nothing_served_as_a_static_file_or_a_template_needs_a_denied_feature():
    sources = [
        path
        for finder in finders.get_finders()
        for relative, storage in finder.list(["*.map"])
        if (path := storage.path(relative)).endswith((".js", ".html"))
        # The accessibility checker the browser tests inject (tests/e2e/browser.py) inspects
        # <video> and <audio> elements; no page loads it.
        and "/axe-core-" not in path
        # The camera test is the one page allowed the camera and microphone, by its own
        # Permissions-Policy (appointments.telehealth_views.CAMERA_POLICY; tests/test_access_matrix.py).
        and not path.endswith("js/camera_test.js")
    ]
    sources += [
        str(path)
        for path in (settings.BASE_DIR / "templates").rglob("*.html")
        if path.name != "camera_test.html"  # its <video> is played by camera_test.js on a click
    ]
    assert any(path.endswith("mfa/js/webauthn.js") for path in sources)  # the scan sees allauth's too

    uses = {
        (feature, path)
        for path in sources
        for feature, pattern in FEATURE_APIS.items()
        if re.search(pattern, Path(path).read_text(encoding="utf-8", errors="replace"))
    }

    assert uses == set()


def test_the_answer_to_a_sign_in_is_not_cached(client, patient):
    response = client.post(reverse("account_login"), {"login": patient.user.email, "password": DEMO_LIKE_PASSWORD})

    assert response.status_code == 302
    assert no_store(response)


def test_the_page_after_sign_out_or_a_timeout_is_not_cached_either(client, patient):
    log_in(client, patient.user)
    logged_out = client.post(reverse("account_logout"))
    assert no_store(logged_out)

    log_in(client, patient.user)
    later = timezone.now() + datetime.timedelta(minutes=settings.TITRATE_IDLE_MINUTES_PATIENT + 1)
    with time_machine.travel(later, tick=False):
        timed_out = client.get(reverse("patient_home"))
    assert timed_out["Location"] == reverse("account_login")
    assert no_store(timed_out)


def test_a_patient_page_carries_every_no_cache_header(client, patient):
    log_in(client, patient.user)
    home = client.get(reverse("patient_home"))
    assert home.status_code == 200
    assert set(home["Cache-Control"].replace(" ", "").split(",")) >= {"no-store", "no-cache", "private"}
    assert home["Expires"]  # for HTTP/1.0 caches
