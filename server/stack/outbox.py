"""The local stack's mail: every message GoTrue would send is written to a folder instead.

There is no mail server locally, so confirmation, recovery and magic-link mails land in
`<data dir>/outbox/` as RFC 5322 `.eml` files (one per message, written atomically), the way
Inbucket catches them for the Supabase CLI. Developers open them; tests read them with
`read_outbox`.
"""

from __future__ import annotations

import os
import time
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

SENDER = "Coachdesk (local) <noreply@coachdesk.localhost>"


def send(outbox: Path, to: str, subject: str, text: str) -> Path:
    """Write one plain-text message to `outbox`; returns its file."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = SENDER
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="coachdesk.localhost")
    message.set_content(text)
    outbox.mkdir(parents=True, exist_ok=True)
    # Sortable by time of sending; the uuid keeps two mails in one nanosecond apart.
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.eml"
    partial = outbox / f".{name}.partial"
    partial.write_bytes(message.as_bytes())
    os.replace(partial, outbox / name)
    return outbox / name


def read_outbox(outbox: Path, to: str | None = None) -> list[EmailMessage]:
    """The messages in `outbox`, oldest first; only those to `to` when given."""
    if not outbox.is_dir():
        return []
    messages = []
    for path in sorted(outbox.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        if to is None or str(message["To"]).lower() == to.lower():
            messages.append(message)
    return messages
