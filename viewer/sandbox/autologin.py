"""A scripted stand-in for the system browser on the sandbox's consent page.

``main.py --sandbox`` signs in through the real MSAL auth-code flow and our loopback receiver; this
clicks the sandbox's consent page for the demo user the way a person would (tests use it too).
"""

from __future__ import annotations

import html
import re
import ssl
import threading
from collections.abc import Callable

import httpx

_INPUT = re.compile(r"<input\b[^>]*>", re.IGNORECASE)


def _attr(tag: str, name: str) -> str | None:
    match = re.search(rf'\b{name}\s*=\s*"([^"]*)"', tag, re.IGNORECASE)
    return html.unescape(match.group(1)) if match else None


def form_fields(page: str) -> dict[str, str]:
    """The submittable fields of the first form: hidden/text inputs and the checked radio."""
    fields: dict[str, str] = {}
    for tag in _INPUT.findall(page):
        name = _attr(tag, "name")
        kind = (_attr(tag, "type") or "text").lower()
        if not name or kind == "submit":
            continue
        if kind == "radio" and not re.search(r"\bchecked\b", tag, re.IGNORECASE) and name in fields:
            continue
        fields[name] = _attr(tag, "value") or ""
    return fields


def form_action(page: str) -> str | None:
    match = re.search(r"<form\b[^>]*\baction\s*=\s*\"([^\"]*)\"", page, re.IGNORECASE)
    return html.unescape(match.group(1)) if match else None


def consent(url: str, verify: ssl.SSLContext, *, accept: bool = True, username: str | None = None) -> None:
    """Open the authorize URL, answer the consent form, and deliver the result to the redirect URI."""
    with httpx.Client(verify=verify, timeout=15) as web:
        page = web.get(url)
        page.raise_for_status()
        fields = form_fields(page.text)
        if username:
            fields["account"] = username
        fields["action"] = "accept" if accept else "cancel"
        target = form_action(page.text) or str(page.url)
        answer = web.post(httpx.URL(str(page.url)).join(target), data=fields)
    # The redirect URI is our loopback receiver (plain http on this computer).
    if answer.status_code in (301, 302, 303, 307) and answer.headers.get("location"):
        httpx.get(answer.headers["location"], timeout=15)
    elif (action := form_action(answer.text)) is not None:  # response_mode=form_post
        httpx.post(action, data=form_fields(answer.text), timeout=15)
    else:
        raise RuntimeError(f"unexpected consent answer: HTTP {answer.status_code}")


def auto_browser(
    verify: ssl.SSLContext, *, accept: bool = True, username: str | None = None
) -> Callable[[str], None]:
    """An ``open_browser`` callable: returns at once, like a browser, and consents in the background."""

    def open_url(url: str) -> None:
        threading.Thread(
            target=consent, args=(url, verify), kwargs={"accept": accept, "username": username}, daemon=True
        ).start()

    return open_url
