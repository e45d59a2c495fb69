"""Benchmark fake_cognito against its peers, side by side in one run.

1. USER_PASSWORD_AUTH logins/s, same flow, same load generator, loopback only:
   fake_cognito vs the npm package ``cognito-local`` (installed with npm into a
   temporary folder for this run only) vs moto's cognito-idp (``moto_server``).
   Target: fake_cognito / cognito-local >= 2.
2. Bounded memory: fake_cognito's RSS after 60 s of 50 concurrent clients
   (login, refresh, GetUser) / its RSS after 5 s.  Target <= 1.2.

Usage:  python bench/bench_fake_cognito.py [--seconds 5] [--rounds 2] [--rss-seconds 60]
        [--cognito-local-dir DIR]   (reuse an existing npm install instead of a fresh temp one)
Ports are ephemeral (never 9000-9019); every server and loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import psutil
import requests
from hippodrome_k8s.host.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
COGNITO_LOCAL_VERSION = "5.3.0"
PASSWORD = "Passw0rd!"
USERS = 10
TARGET = "AWSCognitoIdentityProviderService."




def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: server exited with {proc.returncode}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url}: not up in {timeout}s")


class Server:
    def __init__(self, name: str, argv: list[str], probe: str, env: dict[str, str], cwd: Path) -> None:
        self.name, self.port = name, int(env["PORT"]) if "PORT" in env else free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [a.replace("{port}", str(self.port)) for a in argv]
        self.proc = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **env, "PORT": str(self.port)},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_ready(self.url + probe, self.proc)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def rss(self) -> int:
        proc = psutil.Process(self.proc.pid)
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])


def provision(url: str) -> str:
    """One pool, one client, USERS confirmed users; returns the client id."""
    idp = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    pool = idp.create_user_pool(PoolName="bench")["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="bench",
                                         ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH",
                                                            "ALLOW_ADMIN_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    for i in range(USERS):
        idp.admin_create_user(UserPoolId=pool, Username=f"user{i}@example.com", MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "email", "Value": f"user{i}@example.com"}])
        idp.admin_set_user_password(UserPoolId=pool, Username=f"user{i}@example.com", Password=PASSWORD, Permanent=True)
    return client


async def _call(session: aiohttp.ClientSession, url: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
    async with session.post(url + "/", data=json.dumps(body), headers={
            "X-Amz-Target": TARGET + action, "Content-Type": "application/x-amz-json-1.1"}) as response:
        payload = await response.json(content_type=None)
        if response.status != 200:
            raise RuntimeError(f"{action}: {response.status} {str(payload)[:200]}")
        return payload


def _login_body(client_id: str, i: int) -> dict[str, Any]:
    return {"ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": f"user{i % USERS}@example.com", "PASSWORD": PASSWORD}}


async def logins_per_second(url: str, client_id: str, seconds: float, concurrency: int) -> tuple[float, int]:
    ok = errors = 0
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        await _call(session, url, "InitiateAuth", _login_body(client_id, 0))  # warm up
        stop = time.monotonic() + seconds

        async def worker(w: int) -> None:
            nonlocal ok, errors
            i = w
            while time.monotonic() < stop:
                try:
                    result = await _call(session, url, "InitiateAuth", _login_body(client_id, i))
                    ok += "AuthenticationResult" in result
                except (RuntimeError, aiohttp.ClientError, asyncio.TimeoutError):
                    errors += 1
                i += concurrency

        started = time.monotonic()
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        return ok / (time.monotonic() - started), errors


async def soak(server: Server, client_id: str, seconds: float, clients: int) -> dict[str, Any]:
    """50 clients: login, refresh, GetUser, in a loop; RSS sampled at 5 s and at the end."""
    samples: dict[str, int] = {}
    counts = {"requests": 0, "errors": 0}
    stop = time.monotonic() + seconds
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30),
                                     connector=aiohttp.TCPConnector(limit=clients)) as session:
        async def client(c: int) -> None:
            i = c
            while time.monotonic() < stop:
                try:
                    tokens = (await _call(session, server.url, "InitiateAuth", _login_body(client_id, i)))["AuthenticationResult"]
                    await _call(session, server.url, "InitiateAuth", {
                        "ClientId": client_id, "AuthFlow": "REFRESH_TOKEN_AUTH",
                        "AuthParameters": {"REFRESH_TOKEN": tokens["RefreshToken"]}})
                    await _call(session, server.url, "GetUser", {"AccessToken": tokens["AccessToken"]})
                    counts["requests"] += 3
                except (RuntimeError, KeyError, aiohttp.ClientError, asyncio.TimeoutError):
                    counts["errors"] += 1
                i += clients

        async def sampler() -> None:
            started = time.monotonic()
            await asyncio.sleep(5)
            samples["rss_5s"] = server.rss()
            peak = samples["rss_5s"]
            while time.monotonic() < stop:
                await asyncio.sleep(min(1.0, max(0.0, stop - time.monotonic())))
                peak = max(peak, server.rss())
            samples["rss_end"] = server.rss()
            samples["peak"] = max(peak, samples["rss_end"])
            samples["elapsed"] = time.monotonic() - started

        await asyncio.gather(sampler(), *(client(c) for c in range(clients)))
    return {**samples, **counts}


def install_cognito_local(folder: Path) -> Path:
    start = folder / "node_modules" / "cognito-local" / "lib" / "bin" / "start.js"
    if not start.exists():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", f"cognito-local@{COGNITO_LOCAL_VERSION}"],
                       cwd=folder, check=True, timeout=300, stdout=subprocess.DEVNULL)
    return start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="measurement window per server per round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds (servers alternate; the median is reported)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rss-seconds", type=float, default=60.0)
    parser.add_argument("--rss-clients", type=int, default=50)
    parser.add_argument("--cognito-local-dir", type=Path, default=None)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-fake-cognito-"))
    servers: list[Server] = []
    try:
        npm_dir = args.cognito_local_dir or (work / "npm")
        npm_dir.mkdir(parents=True, exist_ok=True)
        print(f"installing cognito-local {COGNITO_LOCAL_VERSION} with npm into {npm_dir} ...", flush=True)
        start_js = install_cognito_local(npm_dir)
        (work / "cl").mkdir()
        (work / "moto").mkdir()
        fake = Server("fake_cognito", [sys.executable, "-m", "fakes.fake_cognito"], "/healthz", {
            "HIPPODROME_STATE_DIR": str(work / "state"), "HIPPODROME_RANDOM_SEED": "42",
            "HIPPODROME_ENCRYPTION_SECRET": "bench-secret", "HOST": "127.0.0.1"}, ROOT)
        servers.append(fake)
        local = Server("cognito-local", ["node", str(start_js)], "/health", {"HOST": "127.0.0.1"}, work / "cl")
        servers.append(local)
        moto = Server("moto cognito-idp", ["moto_server", "-H", "127.0.0.1", "-p", "{port}"], "/moto-api/", {}, work / "moto")
        servers.append(moto)
        clients = {s.name: provision(s.url) for s in servers}

        rates: dict[str, list[float]] = {s.name: [] for s in servers}
        errors: dict[str, int] = {s.name: 0 for s in servers}
        for r in range(args.rounds):
            for s in servers:
                rate, errs = asyncio.run(logins_per_second(s.url, clients[s.name], args.seconds, args.concurrency))
                rates[s.name].append(rate)
                errors[s.name] += errs
                print(f"  round {r + 1}: {s.name:<17} {rate:8.1f} logins/s ({errs} errors)", flush=True)
        median = {name: statistics.median(v) for name, v in rates.items()}
        rss_before_load = fake.rss()
        local.stop()
        moto.stop()

        print(f"soaking fake_cognito: {args.rss_clients} concurrent clients for {args.rss_seconds:.0f} s ...", flush=True)
        soaked = asyncio.run(soak(fake, clients[fake.name], args.rss_seconds, args.rss_clients))

        ratio_local = median["fake_cognito"] / median["cognito-local"] if median["cognito-local"] else float("inf")
        ratio_moto = median["fake_cognito"] / median["moto cognito-idp"] if median["moto cognito-idp"] else float("inf")
        rss_ratio = soaked["rss_end"] / soaked["rss_5s"]
        mib = 1024 * 1024
        print()
        print(f"USER_PASSWORD_AUTH logins/s (loopback, {args.concurrency} concurrent, {args.seconds:.0f} s x "
              f"{args.rounds} rounds, median; {USERS} users)")
        print(f"  {'server':<20}{'logins/s':>10}{'errors':>8}   rounds")
        for name in median:
            print(f"  {name:<20}{median[name]:>10.1f}{errors[name]:>8}   " + ", ".join(f"{v:.1f}" for v in rates[name]))
        print(f"  ratio fake_cognito / cognito-local     = {ratio_local:6.2f}   (target >= 2)  "
              f"{'PASS' if ratio_local >= 2 else 'FAIL'}")
        print(f"  ratio fake_cognito / moto cognito-idp  = {ratio_moto:6.2f}   (for reference)")
        print()
        print(f"fake_cognito RSS under {args.rss_clients} concurrent clients (login + refresh + GetUser loop)")
        print(f"  RSS before soak      {rss_before_load / mib:8.1f} MiB")
        print(f"  RSS after 5 s        {soaked['rss_5s'] / mib:8.1f} MiB")
        label = f"RSS after {soaked.get('elapsed', args.rss_seconds):.0f} s"
        print(f"  {label:<21}{soaked['rss_end'] / mib:8.1f} MiB"
              f"   (peak {soaked['peak'] / mib:.1f} MiB)")
        print(f"  requests {soaked['requests']}, errors {soaked['errors']}")
        print(f"  ratio RSS(end) / RSS(5 s)              = {rss_ratio:6.2f}   (target <= 1.2)  "
              f"{'PASS' if rss_ratio <= 1.2 else 'FAIL'}")
        return 0
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
