"""The files that keep moto's state: a snapshot plus a journal of the writes made since.

Layout of the state directory (``$HIPPODROME_STATE_DIR/moto/``)::

    lock                 flock(2): held by the fake_aws process that owns the state (and its compaction child)
    snapshot.pickle      one JSON header line ({"format", "moto", "covers", ...}), then moto's state, pickled
    journal-<n>.jsonl    acknowledged writes after the snapshot: one JSON object per line, in order
    seeded.json          which DynamoDB items the bootstrap seeded (see seeding.py)

A write is appended with one ``write(2)`` before its reply is sent: once a client has its answer,
the write is in the file (the page cache survives a ``kill -9``; no fsync, the threat is the process
dying, not the machine).  Start-up loads the snapshot and replays the journal segments it does not
cover.  Compaction writes a new snapshot and drops the segments it covers:

* on a clean stop (SIGTERM), in the process, after the server stopped taking requests;
* while running, after ``compact_every`` writes, ``compact_bytes`` of journal or ``compact_seconds``
  spent executing journalled writes (a replay takes about as long as the writes took: this bounds
  it directly), whichever comes first: the writer rotates to a new segment and ``fork()``s; the
  child pickles the copy-on-write image of the state, renames the snapshot into place, deletes the
  covered segments and exits.  The server goes on at once; so after a ``kill -9`` start-up replays
  about a second of writes at most, however long the history.

A failed or killed compaction loses nothing: the segments stay until a snapshot covers them.  The
child keeps the lock, so a new process started after a ``kill -9`` waits for it to finish.

This module knows files, order and processes; what a snapshot contains and how one write is
replayed are the callables it is given (see motostate.py).
"""

from __future__ import annotations

import errno
import fcntl
import gc
import json
import os
import signal
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

FORMAT = 1
SNAPSHOT = "snapshot.pickle"
LOCK = "lock"


class StateError(Exception):
    """The state directory cannot be used (locked by another process, damaged, unreadable)."""


@dataclass
class Restored:
    snapshot: bool = False  # a snapshot was loaded
    replayed: int = 0  # journal entries replayed after it
    failed: int = 0  # replayed entries that did not succeed again
    failures: tuple[str, ...] = ()  # the first few, for the log
    seconds: float = 0.0
    released: int = 0  # SQS messages in flight at the snapshot, visible again (see motostate)
    aborted: int = 0  # Step Functions executions running at the snapshot, now ABORTED

    def summary(self) -> dict[str, Any]:
        return {"snapshot": self.snapshot, "replayed": self.replayed, "failed": self.failed,
                "released": self.released, "aborted": self.aborted, "seconds": round(self.seconds, 3)}


def _close_sockets() -> None:
    """Close this process's sockets (files stay open: moto keeps large S3 objects in temporary files)."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 1024))
    for fd in fds:
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)
        except OSError:
            continue


@dataclass
class _Child:
    """A compaction running in a forked child, and what it covers."""

    entries: int
    bytes: int
    seconds: float
    pid: int = 0
    status: int | None = None
    done: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)


def _segment_name(n: int) -> str:
    return f"journal-{n:09d}.jsonl"


class Journal:
    def __init__(self, directory: Path, *, dump: Callable[[IO[bytes]], None], load: Callable[[IO[bytes]], None],
                 replay: Callable[[dict[str, Any]], str | None], header: dict[str, Any] | None = None,
                 compact_every: int = 500, compact_bytes: int = 64 << 20, compact_seconds: float = 1.0,
                 lock_timeout: float = 60.0,
                 log: Callable[[str], None] = print) -> None:
        self.directory = directory
        self._dump, self._load, self._replay = dump, load, replay
        self._header = dict(header or {})
        # compact_every=0: only on a clean stop (no background compaction at all)
        self.compact_every, self.compact_bytes, self.compact_seconds = compact_every, compact_bytes, compact_seconds
        self.child_timeout = 300.0  # a background compaction running longer than this is ended
        self._lock_timeout = lock_timeout
        self._log = log
        self._lock_fd: int | None = None
        self._fd: int | None = None  # the open segment
        self._segment = 0
        self._covered = 0  # highest segment number the snapshot on disk covers
        self._entries = 0  # entries written since the last snapshot (or fork of one)
        self._bytes = 0
        self._seconds = 0.0  # time spent executing them
        self._child: _Child | None = None  # the compaction running in the background, if any
        self.closed = False
        self.compactions = 0  # snapshots written (background and final)

    # --- start ------------------------------------------------------------------------------------

    def open(self) -> Restored:
        """Take the lock, load the snapshot, replay what it does not cover, open a new segment."""
        started = time.monotonic()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._acquire_lock()
        except OSError as e:
            raise StateError(f"cannot use {self.directory} for moto's state: {e.strerror or e}") from None
        try:
            restored = self._restore()
        except OSError as e:
            self._release_lock()
            raise StateError(f"cannot read moto's state in {self.directory}: {e}") from None
        except BaseException:
            self._release_lock()
            raise
        restored.seconds = time.monotonic() - started
        return restored

    def _restore(self) -> Restored:
        started = time.monotonic()
        for stale in self.directory.glob("snapshot.tmp.*"):
            stale.unlink(missing_ok=True)
        restored = Restored()
        snapshot = self.directory / SNAPSHOT
        if snapshot.exists():
            self._covered = self._load_snapshot(snapshot)
            restored.snapshot = True
        failures: list[str] = []
        for n in self._segments():
            if n <= self._covered:
                (self.directory / _segment_name(n)).unlink(missing_ok=True)  # a compaction died before deleting it
                continue
            for entry in self._read_segment(n):
                restored.replayed += 1
                self._entries += 1
                self._bytes += entry.pop("_size", 0)
                problem = self._replay(entry)
                if problem is not None:
                    restored.failed += 1
                    if len(failures) < 3:
                        failures.append(problem)
        restored.failures = tuple(failures)
        self._seconds = time.monotonic() - started  # replaying them again would take about as long
        self._segment = max([self._covered, *self._segments()]) + 1
        self._open_segment()
        return restored

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _acquire_lock(self) -> None:
        path = self.directory / LOCK
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self._lock_timeout
        said = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            if time.monotonic() > deadline:
                os.close(fd)
                raise StateError(f"{self.directory} is in use by another fake_aws (pid {holder}); stop it, "
                                 "or give this one its own HIPPODROME_STATE_DIR")
            if not said:
                self._log(f"waiting for {path} (held by pid {holder}: another fake_aws, or its compaction)")
                said = True
            time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def _segments(self) -> list[int]:
        numbers = []
        for path in self.directory.glob("journal-*.jsonl"):
            try:
                numbers.append(int(path.name[len("journal-"):-len(".jsonl")]))
            except ValueError:
                continue
        return sorted(numbers)

    def _load_snapshot(self, path: Path) -> int:
        try:
            with open(path, "rb") as f:
                header = json.loads(f.readline())
                if header.get("format") != FORMAT:
                    raise StateError(f"{path} has format {header.get('format')}, this fake_aws reads {FORMAT}")
                mismatch = {k: (header.get(k), v) for k, v in self._header.items() if header.get(k) != v}
                if mismatch:
                    self._log("snapshot written by " + ", ".join(f"{k} {a} (this is {b})" for k, (a, b) in mismatch.items())
                              + "; loading it anyway")
                gc.disable()
                try:
                    self._load(f)
                finally:
                    gc.enable()
        except StateError:
            raise
        except Exception as e:  # a damaged or incompatible snapshot: say what and how to start over
            raise StateError(f"cannot load {path}: {type(e).__name__}: {e}. To start from empty state, remove "
                             f"{self.directory} (hippodrome reset)") from None
        return int(header.get("covers", 0))

    def _read_segment(self, n: int):
        path = self.directory / _segment_name(n)
        with open(path, "rb") as f:
            for number, line in enumerate(f, 1):
                if not line.endswith(b"\n"):
                    # the process died inside this write: it was never acknowledged
                    self._log(f"{path.name}:{number}: ignoring a write cut short by the process dying (never answered)")
                    return
                try:
                    entry = json.loads(line)
                except ValueError as e:
                    raise StateError(f"{path}:{number} is damaged ({e}). To start from empty state, remove "
                                     f"{self.directory} (hippodrome reset)") from None
                entry["_size"] = len(line)
                yield entry

    def _open_segment(self) -> None:
        self._fd = os.open(self.directory / _segment_name(self._segment), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    # --- writes (the caller serialises them) ---------------------------------------------------------

    def append(self, entry: dict[str, Any], seconds: float = 0.0) -> None:
        """Append one acknowledged write (``seconds``: how long executing it took); returns once it
        is in the file.  Not thread-safe: the caller holds its write lock, which also orders the
        writes as they were applied."""
        if self._fd is None:
            raise StateError("the journal is not open")
        data = json.dumps(entry, separators=(",", ":")).encode() + b"\n"
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]
        self._entries += 1
        self._bytes += len(data)
        self._seconds += seconds
        self._collect_child()
        if self._child is None and self.compact_every and (
                self._entries >= self.compact_every or self._bytes >= self.compact_bytes
                or self._seconds >= self.compact_seconds):
            self.compact_in_background()

    def _collect_child(self) -> None:
        child = self._child
        if child is not None and not child.done.is_set() and time.monotonic() - child.started > self.child_timeout:
            try:  # stuck (it should take seconds): end it; its segments stay, the next compaction covers them
                os.kill(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.done.wait()
        if child is not None and child.done.is_set():
            self._child = None
            if child.status != 0:  # nothing lost: its segments stay; count them again so the next write retries
                self._entries += child.entries
                self._bytes += child.bytes
                self._seconds += child.seconds
                self._log(f"background compaction failed (exit status {child.status}); the journal is kept")

    # --- compaction ---------------------------------------------------------------------------------

    def compact_in_background(self) -> bool:
        """Rotate to a new segment and fork a child that snapshots the state as of now.  The caller
        holds its write lock (so the state is the state after the last appended write).  Falls back
        to compacting in this process where fork() does not exist."""
        self._collect_child()
        if self._child is not None or self._fd is None:
            return False
        if not hasattr(os, "fork"):
            self.compact_now()
            return True
        covers = self._segment
        self._rotate()
        child = _Child(entries=self._entries, bytes=self._bytes, seconds=self._seconds)
        self._entries = self._bytes = 0
        self._seconds = 0.0
        pid = os.fork()
        if pid == 0:  # the child: pickle the copy-on-write image, then leave without cleanup
            status = 1
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                _close_sockets()  # the listening socket must not outlive the server in an orphaned child
                gc.disable()
                self._write_snapshot(covers)
                status = 0
            except BaseException as e:  # noqa: BLE001 - report and exit, whatever it was
                try:
                    os.write(2, f"fake_aws: compaction child: {type(e).__name__}: {e}\n".encode())
                except OSError:
                    pass
            finally:
                os._exit(status)
        child.pid = pid
        self._child = child
        threading.Thread(target=self._reap, args=(child,), name="fake_aws-compaction", daemon=True).start()
        return True

    def _reap(self, child: _Child) -> None:
        """Wait for a compaction child (in a thread of its own); the writer looks at the outcome."""
        _, status = os.waitpid(child.pid, 0)
        child.status = os.waitstatus_to_exitcode(status)
        if child.status == 0:
            self.compactions += 1
        else:
            (self.directory / f"snapshot.tmp.{child.pid}").unlink(missing_ok=True)
        child.done.set()

    def _rotate(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._segment += 1
        self._open_segment()

    def _write_snapshot(self, covers: int) -> None:
        tmp = self.directory / f"snapshot.tmp.{os.getpid()}"
        header = {**self._header, "format": FORMAT, "covers": covers, "written": time.time()}
        with open(tmp, "wb") as f:
            f.write(json.dumps(header).encode() + b"\n")
            self._dump(f)
        os.replace(tmp, self.directory / SNAPSHOT)
        for n in self._segments():
            if n <= covers:
                (self.directory / _segment_name(n)).unlink(missing_ok=True)

    def compact_now(self) -> None:
        """Snapshot in this process, covering everything written so far (nothing else may write)."""
        self.wait_for_child(kill=True)
        covers = self._segment
        self._rotate()
        gc.disable()
        try:
            self._write_snapshot(covers)
        finally:
            gc.enable()
        self._covered = covers
        self._entries = self._bytes = 0
        self._seconds = 0.0
        self.compactions += 1

    def wait_for_child(self, kill: bool = False) -> None:
        """Wait until the background compaction (if any) is over; ``kill``: end it first (its
        segments stay until the next snapshot covers them)."""
        child = self._child
        if child is None:
            return
        if kill:
            try:
                os.kill(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        child.done.wait()
        if kill:
            self._child = None
        else:
            self._collect_child()

    # --- stop ---------------------------------------------------------------------------------------

    def close(self, compact: bool = True) -> bool:
        """Stop taking writes; compact when anything was written since the last snapshot (returns
        whether it did).  The caller holds its write lock."""
        if self.closed:
            return False
        self.closed = True
        compacted = False
        try:
            self.wait_for_child(kill=True)
            unsnapshotted = any((self.directory / _segment_name(n)).stat().st_size for n in self._segments())
            if compact and unsnapshotted:
                try:
                    self.compact_now()
                    compacted = True
                except Exception as e:  # noqa: BLE001 - the journal still has every write: say so, go on
                    for tmp in self.directory.glob(f"snapshot.tmp.{os.getpid()}"):
                        tmp.unlink(missing_ok=True)
                    self._log(f"could not write a snapshot ({type(e).__name__}: {e}); the journal is kept "
                              "and the next start replays it")
        finally:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            # an empty segment left behind is harmless, but keep the directory tidy
            for n in self._segments():
                path = self.directory / _segment_name(n)
                if n > self._covered and path.stat().st_size == 0:
                    path.unlink(missing_ok=True)
            self._release_lock()
        return compacted
