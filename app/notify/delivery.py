"""Sending one notification: http(s) URLs get a JSON POST through the service's HTTP
client (:mod:`app.httpclient`: its deadline, proxies and CRONWELL_HTTP_ALLOWED_HOSTS),
every other scheme goes through apprise, which knows the chat, mail and push services."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from app.config import Settings
from app.httpclient import Deadline, Request, RequestFailed, perform_request
from app.notify.messages import Message
from app.notify.urls import is_http, without_userinfo

#: Characters of a receiver's answer kept in an error message.
ANSWER_SHOWN = 200


@dataclass(frozen=True)
class Delivery:
    ok: bool
    detail: str  # what the receiver said ("HTTP 204"), or why it failed
    status_code: int | None = None


def deliver(url: str, message: Message, settings: Settings) -> Delivery:
    """Send ``message`` to ``url`` within NOTIFY_TIMEOUT_SECONDS; never raises."""
    timeout = settings.notify_timeout_seconds
    try:
        if is_http(url):
            return _post(url, message, settings, timeout)
        return _apprise(url, message, timeout)
    except Exception as exc:  # a plugin's own bug must not end the sender
        logging.getLogger("cronwell.notify").exception("Sending a notification failed")
        return Delivery(False, f"{type(exc).__name__}: {exc}")


def _post(url: str, message: Message, settings: Settings, timeout: float) -> Delivery:
    url, auth = without_userinfo(url)  # user:password@ in the URL: basic auth, as curl does
    request = Request(
        url=url,
        method="POST",
        headers={"Content-Type": "application/json"},
        body=json.dumps(message.body).encode(),
        auth=auth,
    )
    try:
        answer = perform_request(Deadline(timeout), request, settings.http_allowed_hosts)
    except RequestFailed as exc:
        return Delivery(False, str(exc))
    detail = f"HTTP {answer.status}"
    if 200 <= answer.status < 300:
        return Delivery(True, detail, answer.status)
    text = answer.body.text().strip()
    if text:
        detail += f": {text[:ANSWER_SHOWN]}"
    return Delivery(False, detail, answer.status)


def _apprise(url: str, message: Message, timeout: float) -> Delivery:
    import apprise

    kind = {
        "failure": apprise.NotifyType.FAILURE,
        "missed": apprise.NotifyType.WARNING,
        "recovery": apprise.NotifyType.SUCCESS,
        "success": apprise.NotifyType.SUCCESS,
    }.get(message.event, apprise.NotifyType.INFO)
    sender = apprise.Apprise()
    with apprise.LogCapture(level=logging.WARNING) as captured:
        if not sender.add(url):
            return Delivery(False, "Not a notification URL apprise accepts.")
        ok = bool(
            sender.notify(title=message.title, body=message.text, notify_type=kind, timeout=timeout)
        )
        said = " ".join(captured.getvalue().split())
    if ok:
        return Delivery(True, "Delivered.")
    return Delivery(False, said[: ANSWER_SHOWN * 2] or "The service did not take the message.")
