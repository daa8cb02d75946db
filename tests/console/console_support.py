"""Support for the console tests: a signed-in HTTP session (requests-free: urllib with a cookie jar)."""

from __future__ import annotations

import http.cookiejar
import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from helpers import wait_for

CONSOLE = "/_sagestack/console"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
NO_BROWSER = "headless Chromium and chromedriver are needed (installed by .ci/chromium.sh)"


class ConsoleClient:
    """Talks to the console as a browser would: the session cookie in a jar, the CSRF token in a header."""

    def __init__(self, server):
        self.base = server.url + CONSOLE
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf: str | None = None

    def request(
        self, method: str, path: str, body=None, headers: dict | None = None
    ) -> tuple[int, object, bytes]:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        headers = dict(headers or {})
        if body is not None and not isinstance(body, bytes):
            headers.setdefault("content-type", "application/json")
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read()

    def sign_in(self, key: str, secret: str) -> dict:
        status, headers, body = self.request(
            "POST", "/session", {"accessKeyId": key, "secretAccessKey": secret}
        )
        assert status == 200, body
        document = json.loads(body)
        self.csrf = document["csrfToken"]
        return document

    def call(
        self, service: str, operation: str, params: dict | None = None, csrf: bool = True
    ) -> tuple[int, dict]:
        headers = {"x-sagestack-csrf": self.csrf} if csrf and self.csrf else {}
        status, _, body = self.request("POST", f"/api/{service}/{operation}", params or {}, headers)
        return status, json.loads(body)


# -- in the browser (selenium) ------------------------------------------------------------


def open_page(driver, server, route: str, timeout: float = 20.0) -> None:
    """Open ``#route`` and wait until it has rendered (signing in first when this browser is not)."""
    driver.get(f"{server.url}/_sagestack/console/#{route}")
    wait_for(
        lambda: driver.execute_script(
            "return document.getElementById('view').dataset.ready === '1'"
            " || !document.getElementById('signin').hidden"
        ),
        timeout,
        0.2,
        f"console page {route}",
    )
    if driver.execute_script("return !document.getElementById('signin').hidden"):
        sign_in(driver, server)
        driver.get(f"{server.url}/_sagestack/console/#{route}")
        wait_for(
            lambda: driver.execute_script("return document.getElementById('view').dataset.ready === '1'"),
            timeout,
            0.2,
            f"console page {route}",
        )


def sign_in(driver, server) -> None:
    """Sign in through the form (a new browser starts signed out)."""
    driver.get(f"{server.url}/_sagestack/console/")
    form = wait_for(
        lambda: driver.find_element("id", "signin").is_displayed() and driver.find_element("id", "signin")
    )
    key, secret = server.credentials()
    form.find_element("name", "accessKeyId").send_keys(key)
    form.find_element("name", "secretAccessKey").send_keys(secret + "\n")
    wait_for(
        lambda: driver.execute_script("return document.getElementById('view').dataset.ready === '1'"), 20
    )


def view_text(driver) -> str:
    return driver.find_element("id", "view").text


def shot(driver, shots: Path, name: str) -> None:
    driver.save_screenshot(str(shots / f"{name}.png"))


def js_errors(driver, expected: tuple[str, ...] = ()) -> list[dict]:
    """Script errors and failed requests in the browser log, but for the sign-in form's own 401s and the
    failed requests a test provoked on purpose (``expected``: parts of their URLs)."""

    def provoked(entry: dict) -> bool:
        if entry["source"] != "network":
            return False
        message = entry["message"]
        return ("/console/session - " in message and "401" in message) or any(e in message for e in expected)

    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and not provoked(e)]
