"""Webhook delivery: POST a JSON alarm event to a point's contact URL, with timeout and retries.

Deliveries run on a small thread pool so a slow or dead receiver never blocks solving; each is a
``WebhookDelivery`` row (pending -> delivered | failed, attempts, last error). A 2xx answer is
delivered; anything else (connection refused, timeout, non-2xx) is retried after
``backoff_s * 2**attempt`` up to ``retries`` more times.
"""
from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from .models_monitoring import WebhookDelivery

log = logging.getLogger("beidou.webhooks")


class WebhookSender:
    def __init__(self, sessions, timeout_s: float = 5.0, retries: int = 3, backoff_s: float = 0.5,
                 workers: int = 2) -> None:
        self.sessions = sessions
        self.timeout_s, self.retries, self.backoff_s = timeout_s, retries, backoff_s
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="webhook")

    def send(self, url: str, payload: dict, alarm_id: int | None = None):
        with self.sessions() as db:
            row = WebhookDelivery(url=url, payload=payload, alarm_id=alarm_id)
            db.add(row)
            db.commit()
            rid = row.id
        return self.pool.submit(self._deliver, rid, url, payload)

    def _deliver(self, rid: int, url: str, payload: dict) -> str:
        body = json.dumps(payload).encode()
        err = ""
        status = "failed"
        attempts = 0
        for attempt in range(self.retries + 1):
            attempts = attempt + 1
            try:
                req = urllib.request.Request(url, data=body, method="POST",
                                             headers={"Content-Type": "application/json",
                                                      "User-Agent": "beidou-monitoring/0.1"})
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    if 200 <= resp.status < 300:
                        status, err = "delivered", ""
                        break
                    err = f"HTTP {resp.status}"
            except urllib.error.HTTPError as exc:
                err = f"HTTP {exc.code}"
            except Exception as exc:  # connection refused, timeout, DNS: retry
                err = f"{type(exc).__name__}: {exc}"
            if attempt < self.retries:
                time.sleep(self.backoff_s * 2 ** attempt)
        if status != "delivered":
            log.warning("webhook %s failed after %d attempts: %s", url, attempts, err)
        with self.sessions() as db:
            row = db.get(WebhookDelivery, rid)
            row.status, row.attempts, row.last_error = status, attempts, err
            db.commit()
        return status

    def shutdown(self, wait: bool = True) -> None:
        self.pool.shutdown(wait=wait)
