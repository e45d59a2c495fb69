"""Run external commands (docker, kind, kubectl): a protocol, the subprocess implementation, a fake.

Every call has a timeout, so a hung docker daemon or kind turns into a
``K8sError`` naming the command instead of a frozen CLI.  ``FakeRunner``
answers from a script of argv prefixes and records every call, which is how
the driver's tests check the order of steps without docker or kind.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from hippodrome_k8s.core.errors import K8sError


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def check(self) -> Completed:
        if self.returncode != 0:
            detail = (self.stderr or self.stdout).strip().splitlines()[-5:]
            raise K8sError(f"`{' '.join(self.argv)}` failed (exit {self.returncode})"
                           + (":\n  " + "\n  ".join(detail) if detail else ""))
        return self


class Runner(Protocol):
    def which(self, program: str) -> str | None: ...

    def run(self, argv: Sequence[str], *, timeout: float, input: str | None = None,
            env: Mapping[str, str] | None = None, cwd: str | None = None, stream: bool = False) -> Completed: ...


class SubprocessRunner:
    """The real runner.  ``stream=True`` lets the command's output reach the terminal (docker build, kind create)."""

    def which(self, program: str) -> str | None:
        return shutil.which(program)

    def run(self, argv: Sequence[str], *, timeout: float, input: str | None = None,
            env: Mapping[str, str] | None = None, cwd: str | None = None, stream: bool = False) -> Completed:
        argv = tuple(argv)
        try:
            if stream:
                proc = subprocess.run(argv, input=input, text=True, timeout=timeout, env=env, cwd=cwd,  # noqa: S603
                                      stdin=None if input is not None else subprocess.DEVNULL)
                return Completed(argv, proc.returncode)
            proc = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout,  # noqa: S603
                                  env=env, cwd=cwd, stdin=None if input is not None else subprocess.DEVNULL)
        except FileNotFoundError:
            raise K8sError(f"`{argv[0]}` is not installed or not on PATH") from None
        except subprocess.TimeoutExpired:
            raise K8sError(f"`{' '.join(argv)}` did not finish within {timeout:g}s") from None
        except OSError as e:
            raise K8sError(f"`{' '.join(argv)}` could not run: {e}") from None
        return Completed(argv, proc.returncode, proc.stdout or "", proc.stderr or "")


Answer = Completed | Callable[[tuple[str, ...]], Completed] | Exception


@dataclass
class FakeRunner:
    """Answers by the longest matching argv prefix; unmatched commands succeed with empty output.

    ``programs`` maps a program name to its path (None: not installed).
    """

    programs: dict[str, str | None] = field(default_factory=dict)
    answers: dict[tuple[str, ...], Answer] = field(default_factory=dict)
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def which(self, program: str) -> str | None:
        return self.programs.get(program, f"/usr/bin/{program}")

    def answer(self, *prefix: str, returncode: int = 0, stdout: str = "", stderr: str = "",
               raises: Exception | None = None, fn: Callable[[tuple[str, ...]], Completed] | None = None) -> None:
        self.answers[tuple(prefix)] = raises or fn or Completed(tuple(prefix), returncode, stdout, stderr)

    def run(self, argv: Sequence[str], *, timeout: float, input: str | None = None,
            env: Mapping[str, str] | None = None, cwd: str | None = None, stream: bool = False) -> Completed:
        argv = tuple(argv)
        self.calls.append(argv)
        best: tuple[str, ...] | None = None
        for prefix in self.answers:
            if argv[:len(prefix)] == prefix and (best is None or len(prefix) > len(best)):
                best = prefix
        if best is None:
            return Completed(argv, 0)
        answer = self.answers[best]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(argv)
        return Completed(argv, answer.returncode, answer.stdout, answer.stderr)

    def commands(self, program: str | None = None) -> list[str]:
        """Calls as strings, for readable assertions."""
        return [" ".join(c) for c in self.calls if program is None or c[0] == program]
