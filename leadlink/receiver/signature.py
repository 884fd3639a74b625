"""Authenticating deliveries: Meta's HMAC signature over the raw bytes, Knowlarity's shared token.

Both compare in constant time and treat a missing secret as "refuse everything".
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_PREFIX = "sha256="


def meta_signature(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value Meta sends for `body` (exact bytes, never re-serialised)."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def meta_signature_valid(secret: str | None, body: bytes, header: str | None) -> bool:
    """True when `header` is `sha256=<hex HMAC-SHA256(secret, body)>`. Any other algorithm
    (the legacy SHA-1 `X-Hub-Signature` is not accepted), a missing header or secret -> False."""
    if not secret or not header:
        return False
    algorithm, _, given = header.strip().partition("=")
    if algorithm.lower() != "sha256" or not given:
        return False
    expected = meta_signature(secret, body)[len(SIGNATURE_PREFIX):]
    return hmac.compare_digest(expected.encode("ascii"), given.strip().lower().encode("utf-8"))


def token_valid(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of a shared secret; an unset secret accepts nothing."""
    if not expected or given is None:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))
