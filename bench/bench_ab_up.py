"""`hippodrome up --detach` at two revisions, side by side: which one brings the reference stack up sooner?

    python3 bench/bench_ab_up.py REV_A REV_B [--rounds 10]

Each revision is checked out into a temporary git worktree (the working tree is not touched) and run with
PYTHONPATH set to it, so the CLI, the supervisor, the fork server and every service run that revision's code
(with this environment's packages: both revisions must fit requirements.lock as installed). The rounds take
turns, A then B, then B then A, each in a fresh temporary project (cold: no state; the bytecode caches written
first), the stack stopped before the next. Prints every round, the medians, their ratio and in how many pairs
B was the faster: on a noisy machine one run of each proves nothing, ten interleaved pairs do.
Loopback only; every port is moved out of 9000-9019 (bench_reference_stack.project).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from bench_reference_stack import compile_project, project  # noqa: E402


def worktree(rev: str, parent: Path) -> Path:
    path = parent / rev.replace("/", "_")
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(path), rev], cwd=REPO, check=True)
    compile_project(path)
    return path


def up_wall(code: Path) -> float:
    """Seconds `hippodrome up --detach` (``code``'s) takes in a fresh project; the stack is stopped after."""
    env = {**os.environ, "PYTHONPATH": str(code), "HIPPODROME_RANDOM_SEED": "42"}
    with tempfile.TemporaryDirectory(prefix="hd-ab-") as tmp:
        root = project(Path(tmp), code)
        command = [sys.executable, "-m", "hippodrome_k8s.cli"]  # = `hippodrome`, from ``code``
        started = time.perf_counter()
        up = subprocess.run([*command, "up", "--detach", "--table-prefix", "ab-"], cwd=root, env=env,
                            capture_output=True, text=True)
        wall = time.perf_counter() - started
        down = subprocess.run([*command, "control", "shutdown"], cwd=root, env=env, capture_output=True, text=True)
        if up.returncode != 0 or down.returncode != 0:
            raise SystemExit(f"{code.name}: up exited {up.returncode}, shutdown {down.returncode}:\n"
                             f"{up.stderr[-2000:]}{down.stderr[-2000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", help="the revision to compare against (a commit, a branch, HEAD~1)")
    parser.add_argument("b", help="the revision under test")
    parser.add_argument("--rounds", type=int, default=10, help="pairs of runs (default 10)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hd-ab-trees-") as trees:
        try:
            codes = {args.a: worktree(args.a, Path(trees))}
            codes[args.b] = worktree(args.b, Path(trees))
            print(f"`up --detach` (profile full) at {args.a} vs {args.b}, {args.rounds} interleaved pairs, "
                  f"{os.cpu_count()} cpus", flush=True)
            walls: dict[str, list[float]] = {args.a: [], args.b: []}
            for number in range(args.rounds):
                order = (args.a, args.b) if number % 2 == 0 else (args.b, args.a)
                for rev in order:
                    walls[rev].append(up_wall(codes[rev]))
                print(f"  pair {number + 1}: {args.a} {walls[args.a][-1]:.2f} s | {args.b} {walls[args.b][-1]:.2f} s",
                      flush=True)
        finally:
            for path in Path(trees).iterdir():
                subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=REPO, capture_output=True)
    a, b = statistics.median(walls[args.a]), statistics.median(walls[args.b])
    faster = sum(y < x for x, y in zip(walls[args.a], walls[args.b]))
    print(f"medians: {args.a} {a:.2f} s, {args.b} {b:.2f} s; ratio {args.b}/{args.a} = {b / a:.3f}; "
          f"{args.b} faster in {faster} of {args.rounds} pairs")


if __name__ == "__main__":
    main()
