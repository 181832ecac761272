"""A real HTTP webhook receiver on 127.0.0.1, for tests and bench/bench_webhooks.py.

Lives beside the dispatcher (not in tests/) so the benchmark can use it too, as
server/db/scratch.py does for databases.

Every request is checked with the reference `standardwebhooks` library against the secret
registered for its path; the receiver records what it got and whether it verified, and answers
with the status and delay the test sets (a slow or failing endpoint).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    payload: Any  # what Webhook.verify returned; None when it failed
    error: str | None


@dataclass
class Receiver:
    """Set `status` and `delay_s` to change how it answers; `received` lists every request."""

    server: ThreadingHTTPServer
    secrets: dict[str, list[str]] = field(default_factory=dict)
    status: int = 200
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Event = field(default_factory=threading.Event)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def endpoint(self, path: str, secret: str) -> str:
        """Register `secret` for `path`; returns the URL to configure."""
        self.secrets.setdefault(path, []).append(secret)
        return f"{self.base_url}{path}"

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, float]:
        payload, error = None, "no secret registered for this path"
        for secret in self.secrets.get(path, []):
            try:
                payload, error = Webhook(secret).verify(body, headers), None
                break
            except WebhookVerificationError as exc:
                error = str(exc)
        with self.lock:
            self.received.append(Received(path, headers, body, payload, error))
        self.arrived.set()
        return self.status, self.delay_s

    def for_path(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_receiver() -> Receiver:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, as real receivers answer; HTTP/1.0 would cost a connection per delivery.
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, delay = holder["receiver"].handle(self.path, headers, body)
            if delay:
                time.sleep(delay)
            try:
                answer = f"answered {status}".encode()
                self.send_response(status)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the dispatcher gave up waiting (timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    class Server(ThreadingHTTPServer):
        # The default listen backlog (5) refuses connections from a few busy workers.
        request_queue_size = 256

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(server)
    holder["receiver"] = receiver
    threading.Thread(target=server.serve_forever, name="receiver", daemon=True).start()
    return receiver
