"""The webhook receiver: a small HTTP server inside the orchestrator that records every POST
AlertManager makes. An in-process service: it lives and dies with the run's process."""

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from resources.ports import HOST
from resources.probes import wait_for


@dataclass
class Delivery:
    path: str
    receiver: str
    alerts: list[dict]
    at: float

    def alertnames(self) -> set[str]:
        return {alert["labels"].get("alertname", "") for alert in self.alerts}


class WebhookReceiver:
    """Started when made (a config needs its URL before AlertManager exists); `close` stops it."""

    name = "webhook receiver"

    def __init__(self):
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    payload = json.loads(body)
                except json.JSONDecodeError:
                    payload = {}
                with receiver._lock:
                    receiver.deliveries.append(Delivery(
                        self.path, payload.get("receiver", ""), payload.get("alerts", []),
                        time.monotonic()))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass  # AlertManager posts often; the deliveries list is the record

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook",
                                        daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def ports(self) -> dict[str, int]:
        return {"http": self.port}

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def received(self, alertname: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if alertname in d.alertnames()]

    def wait_for(self, alertname: str, timeout: float) -> list[Delivery]:
        return wait_for(lambda: self.received(alertname), bool, timeout, interval=0.05)

    def close(self, grace_seconds: float = 5.0) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=grace_seconds)
        self._server.server_close()
