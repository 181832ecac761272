"""Standard Webhooks signatures for outbound deliveries, made by the `standardwebhooks` library.

`webhook-signature` carries one "v1,<base64 HMAC-SHA256>" entry per valid secret: the endpoint's
current secret, and during a rotation the previous one too, so a receiver still configured with
the old secret keeps accepting deliveries until it switches.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook


def body_of(payload: Any) -> str:
    """The exact text sent and signed: compact JSON, keys in the order the database gave them."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def signed_headers(
    secrets: Sequence[str], message_id: str, body: str, timestamp: datetime | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for `body`, signed with every secret given."""
    if not secrets:
        raise ValueError("at least one secret is needed to sign a webhook")
    when = (timestamp or datetime.now(UTC)).astimezone(UTC)
    signatures = " ".join(Webhook(secret).sign(message_id, when, body) for secret in secrets)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signatures,
    }
