"""A tiny local webhook receiver (`tamtam webhooks listen`): it checks each request's Standard
Webhooks signature and timestamp, prints the event, and answers 204 (401 if the signature is
wrong), so an integrator can watch deliveries before writing their own endpoint."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from services.api.webhooks.signing import sign

TOLERANCE_S = 300  # refuse replays of old messages, as the spec recommends


def verify(secret: str, headers: dict[str, str], body: str, now: float | None = None) -> bool:
    message_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    if not message_id or not timestamp.isdigit():
        return False
    if abs((now or time.time()) - int(timestamp)) > TOLERANCE_S:
        return False
    expected = sign(secret, message_id, int(timestamp), body)
    offered = headers.get("webhook-signature", "").split()
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


def serve_receiver(port: int, secret: str, echo: Callable[[str], None]) -> None:
    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
            headers = {k.lower(): v for k, v in self.headers.items()}
            if not verify(secret, headers, body):
                echo(f"REFUSED {headers.get('webhook-id', '?')}: bad signature or timestamp")
                self.send_response(401)
                self.end_headers()
                return
            event = json.loads(body)
            echo(f"{event.get('type')} {headers['webhook-id']} (signature ok)")
            echo(json.dumps(event.get("data", {}), indent=2, ensure_ascii=False))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
