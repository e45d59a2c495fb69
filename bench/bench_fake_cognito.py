"""Benchmark fake_cognito against its peers, side by side in one run.

1. USER_PASSWORD_AUTH logins/s, same flow, same load generator, loopback only:
   fake_cognito vs the npm package ``cognito-local`` (installed with npm into a
   temporary folder for this run only) vs moto's cognito-idp (``moto_server``).
   Target: fake_cognito / cognito-local >= 4.
2. USER_SRP_AUTH logins/s on fake_cognito (InitiateAuth + RespondToAuthChallenge
   with PASSWORD_VERIFIER: two round trips and 3072-bit modular exponentiations on
   both sides), next to its USER_PASSWORD_AUTH figure, with the server's CPU time
   per login for both.  The client's half of the maths runs in worker processes
   (as it would on the users' own machines); cognito-local has no SRP and moto
   does not check the password, so neither is compared.  No target: the ratio is
   reported.
3. Bounded memory: fake_cognito's RSS after 60 s of 50 concurrent clients
   (login, refresh, GetUser) / its RSS after 5 s.  Target <= 1.2.

Usage:  python bench/bench_fake_cognito.py [--seconds 5] [--rounds 2] [--rss-seconds 60]
        [--cognito-local-dir DIR]   (reuse an existing npm install instead of a fresh temp one)
        [--srp-workers 2]           (processes doing the clients' half of the SRP maths)
Ports are ephemeral (never 9000-9019); every server and loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import psutil
import requests
from hippodrome_k8s.host.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
from fakes.fake_cognito import srp  # noqa: E402  (the client half of the SRP maths)

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


def provision(url: str) -> tuple[str, str]:
    """One pool, one client, USERS confirmed users; returns the pool id and the client id."""
    idp = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    pool = idp.create_user_pool(PoolName="bench")["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="bench",
                                         ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH",
                                                            "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH"])[
        "UserPoolClient"]["ClientId"]
    for i in range(USERS):
        idp.admin_create_user(UserPoolId=pool, Username=f"user{i}@example.com", MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "email", "Value": f"user{i}@example.com"}])
        idp.admin_set_user_password(UserPoolId=pool, Username=f"user{i}@example.com", Password=PASSWORD, Permanent=True)
    return pool, client


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


_X_CACHE: dict[tuple[str, str, str], tuple[int, int]] = {}


def srp_answer(pool_id: str, a: int, params: dict[str, str]) -> dict[str, str]:
    """The client's PASSWORD_VERIFIER answer (runs in a worker process). x and k*g^x depend only on the
    user and its salt, so a worker computes them once per user, as a real client could not but the
    server's work per login is the same either way."""
    user, salt = params["USER_ID_FOR_SRP"], params["SALT"]
    cached = _X_CACHE.get((pool_id, user, salt))
    if cached is None:
        x = srp.x_value(pool_id, user, PASSWORD, int(salt, 16))
        cached = _X_CACHE[(pool_id, user, salt)] = (x, srp.K * pow(srp.G, x, srp.N) % srp.N)
    x, kgx = cached
    b_public = int(params["SRP_B"], 16)
    u = srp.u_value(pow(srp.G, a, srp.N), b_public)
    key = srp.session_key(pow((b_public - kgx) % srp.N, a + u * x, srp.N), u)
    timestamp = srp.format_timestamp(datetime.now(timezone.utc))
    return {"USERNAME": user, "PASSWORD_CLAIM_SECRET_BLOCK": params["SECRET_BLOCK"], "TIMESTAMP": timestamp,
            "PASSWORD_CLAIM_SIGNATURE": srp.claim_signature(key, pool_id, user, params["SECRET_BLOCK"], timestamp)}


async def srp_logins_per_second(url: str, pool_id: str, client_id: str, seconds: float, concurrency: int,
                                pool: concurrent.futures.ProcessPoolExecutor) -> tuple[float, int]:
    loop = asyncio.get_running_loop()
    ok = errors = 0
    secrets_a = [int.from_bytes(os.urandom(32), "big") for _ in range(concurrency)]
    publics = [format(pow(srp.G, a, srp.N), "x") for a in secrets_a]
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def login(w: int, i: int) -> bool:
            challenge = await _call(session, url, "InitiateAuth", {
                "ClientId": client_id, "AuthFlow": "USER_SRP_AUTH",
                "AuthParameters": {"USERNAME": f"user{i % USERS}@example.com", "SRP_A": publics[w]}})
            answer = await loop.run_in_executor(pool, srp_answer, pool_id, secrets_a[w], challenge["ChallengeParameters"])
            result = await _call(session, url, "RespondToAuthChallenge", {
                "ClientId": client_id, "ChallengeName": "PASSWORD_VERIFIER", "ChallengeResponses": answer})
            return "AuthenticationResult" in result

        if not await login(0, 0):  # warm up (and check the flow works at all)
            raise RuntimeError("SRP login did not return tokens")
        stop = time.monotonic() + seconds

        async def worker(w: int) -> None:
            nonlocal ok, errors
            i = w
            while time.monotonic() < stop:
                try:
                    succeeded = await login(w, i)  # not `ok += await ...`: that reads ok before the await
                    ok += succeeded
                except (RuntimeError, KeyError, aiohttp.ClientError, asyncio.TimeoutError):
                    errors += 1
                i += concurrency

        started = time.monotonic()
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        return ok / (time.monotonic() - started), errors


def cpu_seconds(server: "Server") -> float:
    times = psutil.Process(server.proc.pid).cpu_times()
    return times.user + times.system


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
    parser.add_argument("--srp-workers", type=int, default=2, help="processes doing the clients' SRP maths")
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
        provisioned = {s.name: provision(s.url) for s in servers}
        clients = {name: client for name, (_, client) in provisioned.items()}

        rates: dict[str, list[float]] = {s.name: [] for s in servers}
        errors: dict[str, int] = {s.name: 0 for s in servers}
        srp_rates: list[float] = []
        srp_errors = 0
        cpu_ms = {"USER_PASSWORD_AUTH": [], "USER_SRP_AUTH": []}
        with concurrent.futures.ProcessPoolExecutor(args.srp_workers) as workers:
            list(workers.map(int, range(args.srp_workers)))  # start the workers before any timing
            for r in range(args.rounds):
                for s in servers:
                    cpu_before = cpu_seconds(s)
                    started = time.monotonic()
                    rate, errs = asyncio.run(logins_per_second(s.url, clients[s.name], args.seconds, args.concurrency))
                    if s is fake:
                        cpu_ms["USER_PASSWORD_AUTH"].append(
                            1000 * (cpu_seconds(s) - cpu_before) / max(1.0, rate * (time.monotonic() - started)))
                    rates[s.name].append(rate)
                    errors[s.name] += errs
                    print(f"  round {r + 1}: {s.name:<17} {rate:8.1f} logins/s ({errs} errors)", flush=True)
                cpu_before = cpu_seconds(fake)
                started = time.monotonic()
                rate, errs = asyncio.run(srp_logins_per_second(fake.url, provisioned[fake.name][0], clients[fake.name],
                                                               args.seconds, args.concurrency, workers))
                cpu_ms["USER_SRP_AUTH"].append(
                    1000 * (cpu_seconds(fake) - cpu_before) / max(1.0, rate * (time.monotonic() - started)))
                srp_rates.append(rate)
                srp_errors += errs
                print(f"  round {r + 1}: {'fake_cognito SRP':<17} {rate:8.1f} logins/s ({errs} errors)", flush=True)
        median = {name: statistics.median(v) for name, v in rates.items()}
        srp_median = statistics.median(srp_rates)
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
        print(f"  ratio fake_cognito / cognito-local     = {ratio_local:6.2f}   (target >= 4)  "
              f"{'PASS' if ratio_local >= 4 else 'FAIL'}")
        print(f"  ratio fake_cognito / moto cognito-idp  = {ratio_moto:6.2f}   (for reference)")
        print()
        print(f"fake_cognito USER_SRP_AUTH logins/s (InitiateAuth + RespondToAuthChallenge, same load; the clients' "
              f"maths in {args.srp_workers} worker processes)")
        print(f"  {'flow':<20}{'logins/s':>10}{'errors':>8}   server CPU ms/login   rounds")
        print(f"  {'USER_PASSWORD_AUTH':<20}{median['fake_cognito']:>10.1f}{errors['fake_cognito']:>8}   "
              f"{statistics.median(cpu_ms['USER_PASSWORD_AUTH']):>19.2f}   "
              + ", ".join(f"{v:.1f}" for v in rates["fake_cognito"]))
        print(f"  {'USER_SRP_AUTH':<20}{srp_median:>10.1f}{srp_errors:>8}   "
              f"{statistics.median(cpu_ms['USER_SRP_AUTH']):>19.2f}   " + ", ".join(f"{v:.1f}" for v in srp_rates))
        print(f"  ratio USER_PASSWORD_AUTH / USER_SRP_AUTH = {median['fake_cognito'] / srp_median:6.2f}   "
              f"(for reference: two round trips and 3072-bit exponentiations)")
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
