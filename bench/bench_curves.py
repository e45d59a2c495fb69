"""How cost grows: each figure at several sizes, printed as a table and drawn as a PNG.

    python3 bench/bench_curves.py startup [--sizes 15,30,60] [--no-fork-server]
    python3 bench/bench_curves.py status  [--sizes 15,60,200] [--clients 200] [--requests 4000] [--no-fork-server]
    python3 bench/bench_curves.py cell    [--sizes 10000,100000,1000000] [--budget 600] [--hybrid-max 100000]
    python3 bench/bench_curves.py cognito [--sizes 10,1000,100000] [--budget 900] [--seconds 5]
    python3 bench/bench_curves.py all     # every curve above with its defaults, one after the other

The PNGs land in bench/results/ (build output, ignored by git): curve_<name>.png
(curve_<name>_no_fork_server.png with --no-fork-server).

1. startup: the engine's start-up (supervisor start -> last service running) ÷ the stack's critical
   path (per layer, the slowest service's own time to healthy when started alone, summed), for
   generated stacks of 15, 30, 60 services in 4 layers (bench_local_engine.py's generator).
   Target: flat, each <= 1.10. `up --detach` wall time ÷ critical path beside it.
2. status: /api/status p99 and /healthz p99 on the same dashboard under 200 concurrent clients,
   and their ratio, for 15, 60, 200 services (bench_dashboard_events.py's stack). Target ratio <= 2.
3. cell: fake_cell LEXICAL search p50 (beside the same FTS5 query run directly on the SQLite file, and
   the query that scores every match, as the fake did before it ranked weakAnd's candidates only),
   add throughput (docs/s, batches of 100 through the HTTP API) and HYBRID p50 (up to
   --hybrid-max docs) as one index grows 10k -> 100k -> 1M. Adding towards each size is bounded
   by --budget seconds; a size not reached is reported as such. Target: LEXICAL p50(1M) ÷
   p50(10k) <= 10 (sub-linear growth).
4. cognito: fake_cognito USER_PASSWORD_AUTH logins/s with 10, 1k, 100k users in the pool
   (users added through the API, bounded by --budget seconds per size).

`up --detach` is bounded (60 s + 2 s per service): a stack that fails or hangs is reported in the
table with the services that were not running. --no-fork-server spawns every service plainly.

Loopback only; every port is free and outside 9000-9019; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date

import curve_report as report


def sizes(text: str) -> list[int]:
    values = sorted({int(v.replace("_", "")) for v in text.split(",") if v.strip()})
    if not values or values[0] <= 0:
        raise argparse.ArgumentTypeError("sizes: a comma-separated list of positive integers")
    return values


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def mib(n: float) -> str:
    return f"{n / 2**20:.0f}"


def _engine_label(args: argparse.Namespace) -> str:
    return "fork server off (HIPPODROME_FORK_SERVER=0)" if args.no_fork_server else "fork server on (the default)"


def startup(args: argparse.Namespace) -> tuple[str, report.Plot]:
    import curve_engine

    points = []
    for n in args.sizes:
        print(f"  startup: {n} services ...", flush=True)
        points.append(curve_engine.startup_point(n, fork_server=not args.no_fork_server))
    ok = [p for p in points if "failed" not in p]
    rows, notes = [], []
    for p in points:
        head = [str(p["services"]), f"{p['critical']:.2f}", " ".join(f"{t:.2f}" for t in p["per_layer"])]
        if "failed" in p:
            rows.append(head + ["failed", "-", "-", "-"])
            notes.append(f"{p['services']} services: {p['failed']}")
        else:
            rows.append(head + [f"{p['engine']:.2f}", f"{p['engine'] / p['critical']:.3f}", f"{p['wall']:.2f}",
                                f"{p['wall'] / p['critical']:.3f}"])
    ratios = [p["engine"] / p["critical"] for p in ok]
    if ratios:
        notes.insert(0, f"engine÷critical from {ratios[0]:.3f} to {ratios[-1]:.3f} (target: flat, each <= 1.10; "
                        f"largest ÷ smallest {ratios[-1] / ratios[0]:.2f})")
    if not args.no_fork_server:
        notes.append("below 1 is possible with the fork server: it forks the upper layers held while the lower ones "
                     "start (forkserver.py), and the fixture's delay clock starts before the gate")
    text = report.table(
        f"1. start-up ÷ critical path (4 layers; critical path = per layer, the slowest service alone, summed; "
        f"{_engine_label(args)})",
        ["services", "critical s", "per layer s", "engine s", "engine÷critical", "up --detach s", "up÷critical"],
        rows, notes)
    plot = report.Plot(f"start-up ÷ critical path (should stay flat); {_engine_label(args)}", "services (4 layers)",
                       "ratio", (
        report.Series("engine start-up ÷ critical path", tuple((p["services"], p["engine"] / p["critical"]) for p in ok)),
        report.Series("`up --detach` wall ÷ critical path", tuple((p["services"], p["wall"] / p["critical"]) for p in ok)),
    ), target=1.10, notes=tuple(f"{p['services']} services: up failed or hung" for p in points if "failed" in p))
    return text, plot


def status(args: argparse.Namespace) -> tuple[str, report.Plot]:
    import curve_engine

    points = []
    for n in args.sizes:
        print(f"  status: {n} services ...", flush=True)
        points.append(curve_engine.status_point(n, args.clients, args.requests, fork_server=not args.no_fork_server))
    ok = [p for p in points if "failed" not in p]
    rows, notes = [], []
    for p in points:
        if "failed" in p:
            rows.append([str(p["services"]), "failed", "-", "-", "-"])
            notes.append(f"{p['services']} services: {p['failed']}")
        else:
            rows.append([str(p["services"]), ms(p["status_p99"]), ms(p["healthz_p99"]),
                         f"{p['status_p99'] / p['healthz_p99']:.2f}", str(p["status_bytes"])])
    if ok:
        first, last = ok[0], ok[-1]
        notes.insert(0, f"/api/status p99 {last['services']} ÷ {first['services']} services: "
                        f"{last['status_p99'] / first['status_p99']:.2f} (target ratio status÷healthz <= 2 at every size)")
    text = report.table(
        f"2. /api/status p99 vs /healthz p99, same server, {args.clients} concurrent clients, "
        f"{args.requests} requests per p99 (median of 2 alternating runs); {_engine_label(args)}",
        ["services", "/api/status p99 ms", "/healthz p99 ms", "ratio", "/api/status bytes"], rows, notes)
    plot = report.Plot("/api/status p99 as the stack grows", "services", "p99 (ms)", (
        report.Series("/api/status p99", tuple((p["services"], p["status_p99"] * 1000) for p in ok)),
        report.Series("/healthz p99", tuple((p["services"], p["healthz_p99"] * 1000) for p in ok)),
        report.Series("ratio status ÷ healthz", tuple((p["services"], p["status_p99"] / p["healthz_p99"]) for p in ok),
                      axis="right"),
    ), ylabel_right="ratio", target=2.0, target_axis="right",
        notes=tuple(f"{p['services']} services: up failed or hung" for p in points if "failed" in p))
    return text, plot


def cell(args: argparse.Namespace) -> tuple[str, report.Plot]:
    import curve_cell

    points = curve_cell.run(args.sizes, args.budget, args.rounds, args.search_budget, args.hybrid_max,
                            progress=lambda m: print(m, flush=True))
    rows = []
    for p in points:
        reached = str(p["reached"]) + ("" if p["reached"] >= p["size"] else " (budget)")
        rows.append([str(p["size"]), reached, f"{p['add_rate']:.0f}", ms(p["lexical"]), ms(p["direct"]),
                     f"{p['lexical'] / p['direct']:.2f}", ms(p["every"]), f"{p['matched']:.0f}",
                     ms(p["hybrid"]) if "hybrid" in p else "-", ms(p["hybrid_first"]) if "hybrid" in p else "-",
                     mib(p["rss"]), mib(p["db_bytes"])])
    first, last = points[0], points[-1]
    grow = last["reached"] / first["reached"]
    notes = [f"LEXICAL p50({last['reached']}) ÷ p50({first['reached']}) = {last['lexical'] / first['lexical']:.2f} "
             f"for {grow:.0f}× the documents (target <= 10 for 1M ÷ 10k); the same query direct "
             f"{last['direct'] / first['direct']:.2f}; every match scored (no weakAnd) {last['every'] / first['every']:.2f}; "
             f"documents matched per query {last['matched'] / first['matched']:.1f}×",
             f"add docs/s at {last['reached']} ÷ at {first['reached']}: {last['add_rate'] / first['add_rate']:.2f}"]
    hybrid = [p for p in points if "hybrid" in p]
    if len(hybrid) > 1:
        notes.append(f"HYBRID p50({hybrid[-1]['reached']}) ÷ p50({hybrid[0]['reached']}) = "
                     f"{hybrid[-1]['hybrid'] / hybrid[0]['hybrid']:.2f}")
    if last["reached"] < last["size"] or len(points) < len(args.sizes):
        notes.append(f"adding stopped at the {args.budget:g} s budget: {last['reached']} documents reached, "
                     f"not {last['size']}")
    text = report.table(
        f"3. fake_cell, one index grown incrementally (batches of {curve_cell.BATCH} over HTTP; p50 of up to "
        f"{args.rounds} queries; the server restarted between sizes)",
        ["docs", "reached", "add docs/s", "LEXICAL p50 ms", "FTS5 direct ms", "HTTP÷direct", "every match ms", "matched/query",
         "HYBRID p50 ms", "1st HYBRID ms", "RSS MiB", "DB MiB"], rows, notes)
    plot = report.Plot("fake_cell as the index grows", "documents in the index", "p50 (ms)", (
        report.Series("LEXICAL p50 (HTTP)", tuple((p["reached"], p["lexical"] * 1000) for p in points)),
        report.Series("same FTS5 query, direct", tuple((p["reached"], p["direct"] * 1000) for p in points)),
        report.Series("every match scored, direct", tuple((p["reached"], p["every"] * 1000) for p in points)),
        report.Series("HYBRID p50 (HTTP)", tuple((p["reached"], p["hybrid"] * 1000) for p in hybrid)),
        report.Series("add throughput (docs/s)", tuple((p["reached"], p["add_rate"]) for p in points), axis="right"),
    ), ylabel_right="docs/s", logy=True)
    return text, plot


def cognito(args: argparse.Namespace) -> tuple[str, report.Plot]:
    import curve_cognito

    points = curve_cognito.run(args.sizes, args.budget, args.seconds, args.concurrency,
                               progress=lambda m: print(m, flush=True))
    first = points[0]
    rows = [[str(p["size"]), str(p["reached"]) + ("" if p["reached"] >= p["size"] else " (budget)"),
             f"{p['create_rate']:.0f}", f"{p['logins']:.1f}", f"{p['logins'] / first['logins']:.2f}",
             f"{p['cpu_ms']:.2f}", str(p["errors"]), mib(p["rss"])] for p in points]
    last = points[-1]
    notes = [f"logins/s with {last['reached']} users ÷ with {first['reached']}: {last['logins'] / first['logins']:.2f}"]
    if last["reached"] < last["size"] or len(points) < len(args.sizes):
        notes.append(f"adding stopped at the {args.budget:g} s budget: {last['reached']} users reached, not {last['size']}")
    text = report.table(
        f"4. fake_cognito USER_PASSWORD_AUTH logins/s ({args.concurrency} concurrent, {args.seconds:g} s, "
        "users drawn at random from the pool)",
        ["users", "reached", "users added/s", "logins/s", "÷ first", "server CPU ms/login", "errors", "RSS MiB"],
        rows, notes)
    plot = report.Plot("fake_cognito logins/s as the pool grows", "users in the pool", "logins/s", (
        report.Series("USER_PASSWORD_AUTH logins/s", tuple((p["reached"], p["logins"]) for p in points)),
        report.Series("server CPU ms per login", tuple((p["reached"], p["cpu_ms"]) for p in points), axis="right"),
    ), ylabel_right="ms per login")
    return text, plot


CURVES = {"startup": startup, "status": status, "cell": cell, "cognito": cognito}


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = main.add_subparsers(dest="curve", required=True)
    p = sub.add_parser("startup", help="start-up ÷ critical path, 15/30/60 services")
    p.add_argument("--sizes", type=sizes, default=sizes("15,30,60"))
    p.add_argument("--no-fork-server", action="store_true", help="spawn every service plainly (HIPPODROME_FORK_SERVER=0)")
    p = sub.add_parser("status", help="/api/status p99 and ÷ /healthz p99, 15/60/200 services")
    p.add_argument("--sizes", type=sizes, default=sizes("15,60,200"))
    p.add_argument("--no-fork-server", action="store_true", help="spawn every service plainly (HIPPODROME_FORK_SERVER=0)")
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--requests", type=int, default=4000)
    p = sub.add_parser("cell", help="fake_cell search p50 and add docs/s at 10k/100k/1M docs")
    p.add_argument("--sizes", type=sizes, default=sizes("10000,100000,1000000"))
    p.add_argument("--budget", type=float, default=600.0, help="seconds of adding per size at most")
    p.add_argument("--rounds", type=int, default=300, help="searches per p50")
    p.add_argument("--search-budget", type=float, default=60.0, help="seconds per p50 at most")
    p.add_argument("--hybrid-max", type=int, default=100_000, help="HYBRID p50 up to this many docs")
    p = sub.add_parser("cognito", help="fake_cognito logins/s with 10/1k/100k users")
    p.add_argument("--sizes", type=sizes, default=sizes("10,1000,100000"))
    p.add_argument("--budget", type=float, default=900.0, help="seconds of adding users per size at most")
    p.add_argument("--seconds", type=float, default=5.0, help="login window per size")
    p.add_argument("--concurrency", type=int, default=8)
    sub.add_parser("all", help="every curve with its defaults")
    return main


def main() -> None:
    cli = parser()
    args = cli.parse_args()
    runs = [cli.parse_args([name]) for name in CURVES] if args.curve == "all" else [args]
    print(f"bench_curves: {date.today()}, python {sys.version.split()[0]}, {os.cpu_count()} cpus", flush=True)
    for run in runs:
        text, plot = CURVES[run.curve](run)
        suffix = "_no_fork_server" if getattr(run, "no_fork_server", False) else ""
        path = report.draw(plot, report.RESULTS / f"curve_{run.curve}{suffix}.png")
        print(f"\n{text}\n  plot: {os.path.relpath(path)}\n", flush=True)


if __name__ == "__main__":
    main()
