"""The console's sign-in in a real headless browser (Debian's chromium driven by Playwright): the page
loads amazon-cognito-identity-js from the console, signs in with SRP against fake_cognito, and lists
the account's indexes with the id token. Everything runs on free ports (never 9000-9019)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
import requests

from conftest import ROOT, Proc, Stack
from test_console import ensure_node_modules, seeded_user

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
TIMEOUT_MS = 30_000

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; scripts/test does it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def console(stack: Stack) -> Iterator[Proc]:
    """A console without a default API key: only signing in lists anything. On its planned port: its page signs
    in against fake_cognito from the browser, which only the stack's own origins may do."""
    ensure_node_modules()
    stack.ensure("controller")
    proc = stack.replace("console", CONSOLE_API_KEY="")
    yield proc
    proc.stop()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 800})  # fresh localStorage per test
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert errors == [], errors


def sign_in(page: Any, email: str, password: str) -> None:
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#signin-button")


def test_sign_in_lists_the_accounts_indexes_and_sign_out(stack: Stack, console: Proc, page: Any) -> None:
    alice = seeded_user(stack)
    requests.post(f"{stack.url('controller')}/api/v2/indexes/browser-ix", headers={"x-api-key": stack.demo_key},
                  timeout=10)
    page.goto(console.url + "/")
    page.wait_for_selector("#signin:not([hidden])", timeout=TIMEOUT_MS)
    assert page.evaluate("typeof AmazonCognitoIdentity.CognitoUserPool") == "function"

    sign_in(page, alice["username"], alice["password"] + "-wrong")
    page.wait_for_selector("#signin-status.error", timeout=TIMEOUT_MS)
    assert page.inner_text("#signin-status") == "Incorrect username or password."
    assert page.is_hidden("#session")

    sign_in(page, alice["username"], alice["password"])
    page.wait_for_selector("#session:not([hidden])", timeout=TIMEOUT_MS)
    assert page.inner_text("#who") == f"Signed in as {alice['username']}"
    page.wait_for_selector("#indexes:not([hidden]) tbody tr", timeout=TIMEOUT_MS)
    assert "browser-ix" in page.inner_text("#indexes tbody")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-signed-in.png"), full_page=True)

    page.reload()  # the library keeps the session in localStorage
    page.wait_for_selector("#session:not([hidden])", timeout=TIMEOUT_MS)
    assert page.inner_text("#who") == f"Signed in as {alice['username']}"
    refresh_key = page.evaluate("Object.keys(localStorage).find((k) => k.endsWith('.refreshToken'))")
    refresh_token = page.evaluate(f"localStorage.getItem({refresh_key!r})")

    page.click("#signout")
    page.wait_for_selector("#signin:not([hidden])", timeout=TIMEOUT_MS)
    page.wait_for_function("!Object.keys(localStorage).some((k) => k.endsWith('.refreshToken'))", timeout=TIMEOUT_MS)
    env = stack.env("console")
    idp = boto3.client("cognito-idp", endpoint_url=env["COGNITO_ENDPOINT_URL"], region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    with pytest.raises(idp.exceptions.NotAuthorizedException):  # signing out revoked the refresh token
        idp.initiate_auth(ClientId=env["COGNITO_CLIENT_ID"], AuthFlow="REFRESH_TOKEN_AUTH",
                          AuthParameters={"REFRESH_TOKEN": refresh_token})


def test_a_new_user_chooses_a_password_in_the_browser(stack: Stack, console: Proc, page: Any) -> None:
    env = stack.env("console")
    idp = boto3.client("cognito-idp", endpoint_url=env["COGNITO_ENDPOINT_URL"], region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    email = f"new-{uuid.uuid4().hex[:6]}@example.com"
    idp.admin_create_user(UserPoolId=env["COGNITO_USER_POOL_ID"], Username=email, TemporaryPassword="Temp0rary!",
                          MessageAction="SUPPRESS", UserAttributes=[{"Name": "email", "Value": email}])
    page.goto(console.url + "/")
    page.wait_for_selector("#signin:not([hidden])", timeout=TIMEOUT_MS)
    sign_in(page, email, "Temp0rary!")
    page.wait_for_selector("#new-password:not([hidden])", timeout=TIMEOUT_MS)
    assert "new password" in page.inner_text("#signin-status")
    page.fill("#new-password", "Brand-new1!")
    page.click("#signin-button")
    page.wait_for_selector("#session:not([hidden])", timeout=TIMEOUT_MS)
    assert page.inner_text("#who") == f"Signed in as {email}"
    page.wait_for_selector("#status.error", timeout=TIMEOUT_MS)  # a new user owns no account yet
    assert "owns no account yet" in page.inner_text("#status")
    user = idp.admin_get_user(UserPoolId=env["COGNITO_USER_POOL_ID"], Username=email)
    assert user["UserStatus"] == "CONFIRMED"
