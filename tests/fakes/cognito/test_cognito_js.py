"""amazon-cognito-identity-js (the library React/Amplify-era front ends sign in with) in Node against
fake_cognito: SRP sign-in, the new-password challenge, and sign-up to sign-out (js/flows.js). Tokens
are verified here with PyJWT against the JWKS URL. The library is the console's dependency
(examples/console/package-lock.json): ``npm ci`` installs it there when missing, as the engine does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest

ROOT = Path(__file__).resolve().parents[3]
CONSOLE = ROOT / "examples" / "console"
SCRIPT = Path(__file__).resolve().parent / "js" / "flows.js"
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/"


@pytest.fixture(scope="module")
def node_path() -> str:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for amazon-cognito-identity-js")
    if not (CONSOLE / "node_modules" / "amazon-cognito-identity-js").is_dir():
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=CONSOLE, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    return str(CONSOLE / "node_modules")


def run_js(node_path: str, fake, scenario: str, **config: Any) -> dict[str, Any]:
    config = {"endpoint": fake.url + "/", "poolId": fake.pool_id, "clientId": fake.client_id,
              "scenario": scenario, **config}
    done = subprocess.run(["node", str(SCRIPT), json.dumps(config)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NODE_PATH": node_path})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def verify(fake, pool_id: str, client_id: str, step: dict[str, Any]) -> dict[str, Any]:
    assert step["ok"], step
    jwks = jwt.PyJWKClient(f"{fake.url}/{pool_id}/.well-known/jwks.json")
    claims = jwt.decode(step["idToken"], jwks.get_signing_key_from_jwt(step["idToken"]).key, algorithms=["RS256"],
                        audience=client_id, issuer=ISSUER + pool_id)
    access = jwt.decode(step["accessToken"], jwks.get_signing_key_from_jwt(step["accessToken"]).key,
                        algorithms=["RS256"], issuer=ISSUER + pool_id, options={"verify_aud": False})
    assert access["client_id"] == client_id and access["sub"] == claims["sub"]
    return claims


def refused(step: dict[str, Any], code: str = "NotAuthorizedException") -> bool:
    return step["ok"] is False and step["code"] == code


def test_srp_sign_in_right_wrong_unknown(node_path, fake):
    out = run_js(node_path, fake, "signIn", username="alice@example.com", password="Passw0rd!")
    claims = verify(fake, fake.pool_id, fake.client_id, out["right"])
    assert claims["email"] == "alice@example.com" and claims["cognito:groups"] == ["admins"]
    assert refused(out["wrong"]) and out["wrong"]["message"] == "Incorrect username or password."
    assert refused(out["unknown"], "UserNotFoundException")


def test_new_password_required_after_srp(node_path, fake, cognito):
    name = f"js-{uuid.uuid4().hex[:6]}"
    cognito.admin_create_user(UserPoolId=fake.pool_id, Username=name, TemporaryPassword="Temp0rary!",
                              MessageAction="SUPPRESS", UserAttributes=[{"Name": "email", "Value": f"{name}@example.com"}])
    out = run_js(node_path, fake, "newPassword", username=name, password="Temp0rary!", newPassword="Brand-new1")
    assert refused(out["wrongTemporary"])
    assert out["challenge"]["code"] == "NEW_PASSWORD_REQUIRED"
    assert out["challenge"]["userAttributes"]["email"] == f"{name}@example.com"
    assert verify(fake, fake.pool_id, fake.client_id, out["completed"])["cognito:username"] == name
    verify(fake, fake.pool_id, fake.client_id, out["again"])
    assert refused(out["oldRefused"])
    assert cognito.admin_get_user(UserPoolId=fake.pool_id, Username=name)["UserStatus"] == "CONFIRMED"


def test_sign_up_to_sign_out(node_path, fake, cognito):
    name = f"js-{uuid.uuid4().hex[:6]}"
    out = run_js(node_path, fake, "journey", username=name)
    assert out["signUp"]["ok"] and out["signUp"]["result"]["userConfirmed"] is False
    assert refused(out["unconfirmed"], "UserNotConfirmedException")
    assert refused(out["wrongCode"], "CodeMismatchException")
    assert out["confirm"] == {"ok": True, "result": "SUCCESS"}
    assert refused(out["wrongPassword"])
    claims = verify(fake, fake.pool_id, fake.client_id, out["signIn"])
    assert claims["cognito:username"] == name and claims["email_verified"] is True
    assert ["email", f"{name}@example.com"] in out["attributes"]["result"]
    refreshed = verify(fake, fake.pool_id, fake.client_id, out["refresh"])  # REFRESH_TOKEN_AUTH after SRP
    assert refreshed["origin_jti"] == claims["origin_jti"] and refreshed["jti"] != claims["jti"]
    assert refused(out["changeWrong"])
    assert out["change"]["ok"], out["change"]
    assert refused(out["oldAfterChange"])
    assert out["forgot"]["ok"] and out["forgot"]["result"]["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    assert refused(out["confirmWrongCode"], "CodeMismatchException")
    assert out["confirmForgot"]["ok"], out["confirmForgot"]
    assert refused(out["changedRefused"])
    verify(fake, fake.pool_id, fake.client_id, out["afterReset"])
    assert out["globalSignOut"]["ok"], out["globalSignOut"]
    assert refused(out["afterSignOut"])
    verify(fake, fake.pool_id, fake.client_id, out["third"])
    assert out["revoke"]["ok"], out["revoke"]
    assert refused(out["refreshAfterRevoke"])
