"""RFC 6238 TOTP (SHA-1, 30 s, 6 digits), written out here so tests and browser
journeys do not trust the code under test to compute the codes it checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time

DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXP"


def totp_code(secret: str = DEMO_TOTP_SECRET, at: float | None = None) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"
