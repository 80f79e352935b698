"""Delivery channels: email through Django's email backend, SMS through a small backend
interface (``SMS_BACKEND`` = console | file | twilio | http), in-app by the row itself.

Each call gets the notification id as its idempotency key. Errors are classified so the
sender knows what to do: PermanentError = FAILED now; AmbiguousError = UNKNOWN now (the message
may have gone, and a retry could send it twice); anything else is retried with backoff.
"""

from __future__ import annotations

import json
import logging
import smtplib
from pathlib import Path

import requests
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from clinic.models import Notification
from notifications.preferences import preferences

logger = logging.getLogger(__name__)


class PermanentError(Exception):
    """The provider refused for good (bad number, unsubscribed, 4xx): do not retry."""


class TransientError(Exception):
    """Timeout, 5xx, rate limit: worth another try later."""


class AmbiguousError(Exception):
    """The request reached a provider that does not deduplicate, and no answer came back (a read
    timeout, a connection dropped mid-request): the message may have gone, so it is not retried."""


def _never_sent(error: requests.RequestException) -> bool:
    """True when the request failed before any byte reached the provider: the connection was
    refused, timed out or failed its TLS handshake. requests wraps those in a MaxRetryError whose
    reason is a connect-phase error; a drop after the request was written is a bare ProtocolError."""
    if isinstance(error, (requests.ConnectTimeout, requests.exceptions.SSLError)):
        return True
    cause = error.args[0] if error.args else None
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, ConnectTimeoutError)


def mask_phone(number: str) -> str:
    """Logs keep the last 3 digits, enough to tell messages apart, never the full number."""
    return f"•••{number[-3:]}" if len(number) > 3 else "•••"


# -- SMS backends -----------------------------------------------------------------------------


class ConsoleSMSBackend:
    """Development: logs the message. The body carries no PHI; the number is masked."""

    def send(self, *, to: str, body: str, reference: str) -> str:
        logger.info("SMS to %s (ref %s): %s", mask_phone(to), reference, body)
        return f"console-{reference}"


class FileSMSBackend:
    """Development and tests: appends one JSON line per message to var/sms/messages.jsonl."""

    def send(self, *, to: str, body: str, reference: str) -> str:
        folder = Path(settings.TITRATE_SMS_FILE_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"at": timezone.now().isoformat(), "to": to, "body": body, "reference": reference})
        with open(folder / "messages.jsonl", "a", encoding="utf-8") as out:
            out.write(line + "\n")
        return f"file-{reference}"


class TwilioSMSBackend:
    """Twilio's Messages REST API over ``requests``.

    Twilio does not document an idempotency key for creating messages: the ``Idempotency-Key``
    header carries our id in case it is honoured, but nothing guarantees it, which is why an
    interrupted SMS send ends UNKNOWN instead of being retried (docs/reminders.md), and so does a
    call that timed out or dropped after the request went: Twilio may have accepted the text.
    """

    API = "https://api.twilio.com/2010-04-01/Accounts/{sid}/Messages.json"
    TIMEOUT = (5, 15)  # connect, read: well inside the task's time limit

    def send(self, *, to: str, body: str, reference: str) -> str:
        sid = settings.TWILIO_ACCOUNT_SID
        try:
            response = requests.post(
                self.API.format(sid=sid),
                data={"To": to, "From": settings.TWILIO_FROM_NUMBER, "Body": body},
                auth=(sid, settings.TWILIO_AUTH_TOKEN),
                headers={"Idempotency-Key": reference},
                timeout=self.TIMEOUT,
            )
        except (requests.Timeout, requests.ConnectionError) as error:
            if _never_sent(error):
                raise TransientError(f"Twilio unreachable: {type(error).__name__}") from None
            raise AmbiguousError(f"No answer from Twilio after the request went: {type(error).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(f"Twilio HTTP {response.status_code}")
        if response.status_code >= 400:
            raise PermanentError(f"Twilio HTTP {response.status_code}: {self._reason(response)}")
        try:
            return str(response.json()["sid"])
        except (ValueError, KeyError, TypeError):  # accepted all the same: an error here would resend it
            logger.warning("Twilio accepted a message without a readable sid.")
            return f"twilio-{reference}"

    @staticmethod
    def _reason(response) -> str:
        try:
            payload = response.json()
        except ValueError:
            return "no details"
        return f"error {payload.get('code')}: {payload.get('message', '')}"[:200]


class HttpSMSBackend:
    """A generic HTTP SMS gateway (``SMS_BACKEND=http``): POST JSON ``{to, body, reference}`` to
    ``SMS_HTTP_URL`` with our notification id in an ``Idempotency-Key`` header, and an optional
    bearer token. Choose it only for a gateway that honours the key (a repeated key must not send a
    second text): a read timeout is retried with the same key, and only the key makes that safe.
    The chaos harness (chaos/fakesms.py) runs one on loopback.
    """

    def send(self, *, to: str, body: str, reference: str) -> str:
        headers = {"Idempotency-Key": reference}
        if settings.TITRATE_SMS_HTTP_TOKEN:
            headers["Authorization"] = f"Bearer {settings.TITRATE_SMS_HTTP_TOKEN}"
        try:
            response = requests.post(
                settings.TITRATE_SMS_HTTP_URL,
                json={"to": to, "body": body, "reference": reference},
                headers=headers,
                timeout=(settings.TITRATE_SMS_HTTP_TIMEOUT, settings.TITRATE_SMS_HTTP_TIMEOUT),
            )
        except (requests.Timeout, requests.ConnectionError) as error:
            raise TransientError(f"SMS gateway unreachable: {type(error).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(f"SMS gateway HTTP {response.status_code}")
        if response.status_code >= 400:
            raise PermanentError(f"SMS gateway HTTP {response.status_code}")
        try:
            return str(response.json()["id"])
        except (ValueError, KeyError, TypeError):
            return f"http-{reference}"


SMS_BACKENDS = {
    "console": ConsoleSMSBackend,
    "file": FileSMSBackend,
    "twilio": TwilioSMSBackend,
    "http": HttpSMSBackend,
}


def sms_backend():
    return SMS_BACKENDS[settings.TITRATE_SMS_BACKEND]()


# -- Email ------------------------------------------------------------------------------------


def message_id(reference: str) -> str:
    """A stable Message-ID per notification: a resend after a crash carries the same one, so
    mail systems that dedupe by Message-ID show it once."""
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "titrate.invalid"
    return f"<{reference}@{domain}>"


def send_email(*, to: str, subject: str, text: str, html: str, reference: str, connection=None) -> str:
    """One message; ``connection`` (an email backend already opened by the caller) lets a batch
    reuse one SMTP session instead of a handshake per message."""
    mail = EmailMultiAlternatives(
        subject=subject,
        body=text,
        to=[to],
        headers={"Message-ID": message_id(reference), "X-Titrate-Notification": reference},
        connection=connection,
    )
    if html:
        mail.attach_alternative(html, "text/html")
    try:
        mail.send(fail_silently=False)
    except smtplib.SMTPResponseException as error:
        # 5xx: the server said no for good; 4xx: try again later.
        if error.smtp_code >= 500:
            raise PermanentError(f"Mail server refused: {error.smtp_code}") from None
        raise TransientError(f"Mail server deferred: {error.smtp_code}") from None
    except smtplib.SMTPRecipientsRefused:
        raise PermanentError("Mail server refused the recipient") from None
    except (smtplib.SMTPException, OSError) as error:  # OSError covers refused connections and timeouts
        raise TransientError(f"Mail server unreachable: {type(error).__name__}") from None
    return message_id(reference)


# -- Dispatch by channel ----------------------------------------------------------------------


def deliver(notification: Notification, message, *, email_connection=None, sms=None) -> str:
    """Send ``message`` on the row's channel; returns the provider's message id. A batch passes
    its open email connection and its SMS backend instance so each message does not set them up."""
    reference = str(notification.id)
    if notification.channel == Notification.Channel.EMAIL:
        return send_email(
            to=notification.to_address or notification.recipient.email,
            subject=message.subject,
            text=message.text,
            html=message.html,
            reference=reference,
            connection=email_connection,
        )
    if notification.channel == Notification.Channel.SMS:
        phone = preferences(notification.recipient).sms_phone
        return (sms or sms_backend()).send(to=phone, body=message.text, reference=reference)
    # In-app: the row is the message; marking it SENT is the delivery, so a resend is harmless.
    return ""
