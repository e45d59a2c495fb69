"""fake_cognito's curve for bench_curves.py: USER_PASSWORD_AUTH logins/s as one pool grows.

One pool (no email alias: usernames are looked up by key) and one app client; users are added
through the API towards each size, SignUp + AdminConfirmSignUp with several requests in flight:
the fake has no bulk import, and this pair derives the password's stored form once per user
(AdminCreateUser + AdminSetUserPassword derives it twice), so it is the fastest way in. Adding
stops at the size or when `budget` seconds have passed (the size reached is reported). At each
size, logins/s over `seconds` with `concurrency` clients, each login for a user drawn at random
from the whole pool, and the server's CPU time per login.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import boto3
import psutil

import bench_fake_cognito as cognito_bench

PASSWORD = cognito_bench.PASSWORD
ROOT = cognito_bench.ROOT


def username(i: int) -> str:
    return f"user{i}@example.com"


def provision(url: str) -> tuple[str, str]:
    idp = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    pool = idp.create_user_pool(PoolName="curve")["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="curve", ExplicitAuthFlows=[
        "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
    return pool, client


async def add_users(url: str, pool: str, client: str, have: int, target: int, budget: float,
                    concurrency: int) -> int:
    """Sign up and confirm users ``have`` .. ``target``-1 (fewer if ``budget`` s pass); the count now."""
    deadline = time.monotonic() + budget
    next_user = [have]
    done = [have]
    call = cognito_bench._call

    async def worker(http: aiohttp.ClientSession) -> None:
        while next_user[0] < target and time.monotonic() < deadline:
            i = next_user[0]
            next_user[0] += 1
            await call(http, url, "SignUp", {"ClientId": client, "Username": username(i), "Password": PASSWORD,
                                             "UserAttributes": [{"Name": "email", "Value": username(i)}]})
            await call(http, url, "AdminConfirmSignUp", {"UserPoolId": pool, "Username": username(i)})
            done[0] += 1

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60),
                                     connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    return done[0]


async def logins_per_second(url: str, client: str, users: int, seconds: float, concurrency: int) -> tuple[float, int, int]:
    """(logins/s, logins, errors) with ``concurrency`` clients for ``seconds``, users drawn at random."""
    ok = errors = 0
    rng = random.Random(users)
    call = cognito_bench._call

    def body() -> dict:
        return {"ClientId": client, "AuthFlow": "USER_PASSWORD_AUTH",
                "AuthParameters": {"USERNAME": username(rng.randrange(users)), "PASSWORD": PASSWORD}}

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30),
                                     connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        await call(http, url, "InitiateAuth", body())  # warm up
        stop = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal ok, errors
            while time.monotonic() < stop:
                try:
                    result = await call(http, url, "InitiateAuth", body())
                    ok += "AuthenticationResult" in result
                except (RuntimeError, aiohttp.ClientError, asyncio.TimeoutError):
                    errors += 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return ok / (time.monotonic() - started), ok, errors


def run(sizes: list[int], budget: float, seconds: float, concurrency: int, progress=print) -> list[dict]:
    """Grow one pool through ``sizes`` (ascending); one dict of figures per size."""
    points, have = [], 0
    with tempfile.TemporaryDirectory(prefix="bench-curves-cognito-") as tmp:
        server = cognito_bench.Server("fake_cognito", [sys.executable, "-m", "fakes.fake_cognito"], "/healthz", {
            "HIPPODROME_STATE_DIR": str(Path(tmp) / "state"), "HIPPODROME_RANDOM_SEED": "42",
            "HIPPODROME_ENCRYPTION_SECRET": "bench-secret", "HOST": "127.0.0.1"}, ROOT)
        try:
            pool, client = provision(server.url)
            proc = psutil.Process(server.proc.pid)
            for size in sizes:
                progress(f"  cognito: adding users {have} -> {size} (budget {budget:g} s) ...")
                started = time.monotonic()
                before = have
                have = asyncio.run(add_users(server.url, pool, client, have, size, budget, concurrency))
                create_rate = (have - before) / (time.monotonic() - started)
                cpu = proc.cpu_times()
                rate, logins, errors = asyncio.run(logins_per_second(server.url, client, have, seconds, concurrency))
                after = proc.cpu_times()
                cpu_ms = 1000 * (after.user + after.system - cpu.user - cpu.system) / max(1, logins)
                points.append({"size": size, "reached": have, "create_rate": create_rate, "logins": rate,
                               "errors": errors, "cpu_ms": cpu_ms, "rss": server.rss()})
                if have < size:
                    break
        finally:
            server.stop()
    return points

