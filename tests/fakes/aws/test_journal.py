"""The journal's file handling on its own: order, snapshot coverage, cut and damaged lines, the
lock, compaction in a forked child.  The "state" is a plain dict here, so what is checked is the
journal, not moto (test_persistence.py runs the whole thing)."""

from __future__ import annotations

import json
import os
import pickle

import pytest

from fakes.fake_aws.journal import Journal, StateError


class Store:
    """A stand-in state: a dict that journal entries set keys in."""

    def __init__(self) -> None:
        self.data: dict[str, int] = {}
        self.replayed: list[dict] = []

    def dump(self, f) -> None:
        pickle.dump(self.data, f)

    def load(self, f) -> None:
        self.data = pickle.load(f)

    def replay(self, entry: dict) -> str | None:
        self.replayed.append(entry)
        if entry.get("fail"):
            return f"entry {entry['k']} failed"
        self.data[entry["k"]] = entry["v"]
        return None

    def journal(self, directory, **kwargs) -> Journal:
        kwargs.setdefault("log", lambda line: None)
        return Journal(directory, dump=self.dump, load=self.load, replay=self.replay, header={"moto": "x"}, **kwargs)


def write(store: Store, journal: Journal, k: str, v: int) -> None:
    store.data[k] = v
    journal.append({"k": k, "v": v})


def test_replays_in_order_after_a_crash_and_nothing_after_a_clean_close(tmp_path):
    first = Store()
    journal = first.journal(tmp_path, compact_every=10_000)
    stats = journal.open()
    assert (stats.snapshot, stats.replayed, stats.failed) == (False, 0, 0)
    for i in range(5):
        write(first, journal, "k", i)  # the same key: only the order gives 4
    # a crash: no close
    second = Store()
    restored = second.journal(tmp_path, lock_timeout=0.1)
    with pytest.raises(StateError, match=f"in use by another fake_aws \\(pid {os.getpid()}\\)"):
        restored.open()
    journal.close(compact=False)  # (releases the lock without a snapshot, as a dead process would)
    restored = second.journal(tmp_path)
    stats = restored.open()
    assert (stats.snapshot, stats.replayed) == (False, 5) and second.data == {"k": 4}
    write(second, restored, "other", 1)
    assert restored.close() is True
    third = Store()
    stats = third.journal(tmp_path).open()
    assert (stats.snapshot, stats.replayed) == (True, 0) and third.data == {"k": 4, "other": 1}
    assert sorted(p.name for p in tmp_path.iterdir() if p.stat().st_size) == ["lock", "snapshot.pickle"]


def test_a_cut_last_line_is_ignored_a_damaged_one_is_an_error_failures_are_counted(tmp_path):
    store = Store()
    journal = store.journal(tmp_path, compact_every=10_000)
    journal.open()
    write(store, journal, "a", 1)
    journal.append({"k": "b", "v": 2, "fail": True})
    journal.close(compact=False)
    segment = next(tmp_path.glob("journal-*.jsonl"))
    with open(segment, "ab") as f:
        f.write(b'{"k": "c", "v"')
    said: list[str] = []
    again = Store()
    reopened = again.journal(tmp_path, log=said.append)
    stats = reopened.open()
    reopened.close(compact=False)
    assert again.data == {"a": 1} and (stats.replayed, stats.failed, stats.failures) == (2, 1, ("entry b failed",))
    assert any("cut short" in line for line in said)
    segment.write_bytes(b"{broken\n" + segment.read_bytes())
    with pytest.raises(StateError, match=r"journal-000000001.jsonl:1 is damaged .*hippodrome reset"):
        Store().journal(tmp_path, lock_timeout=5).open()


def test_background_compaction_covers_what_was_written_before_the_fork(tmp_path):
    store = Store()
    journal = store.journal(tmp_path, compact_every=3)
    journal.open()
    for i in range(3):
        write(store, journal, f"k{i}", i)  # the third write forks a compaction
    write(store, journal, "after", 9)  # in the new segment, after the fork: not in that snapshot
    journal.wait_for_child()
    assert journal.compactions == 1
    with open(tmp_path / "snapshot.pickle", "rb") as f:
        header = json.loads(f.readline())
        assert pickle.load(f) == {"k0": 0, "k1": 1, "k2": 2}
    assert header["covers"] == 1 and header["moto"] == "x"
    assert [p.name for p in sorted(tmp_path.glob("journal-*.jsonl"))] == ["journal-000000002.jsonl"]
    journal.close(compact=False)
    again = Store()
    stats = again.journal(tmp_path).open()
    assert (stats.snapshot, stats.replayed) == (True, 1) and again.data == {"k0": 0, "k1": 1, "k2": 2, "after": 9}


def test_a_failed_compaction_keeps_the_journal(tmp_path):
    store = Store()
    journal = store.journal(tmp_path, compact_every=2)

    def broken(f) -> None:
        raise RuntimeError("cannot pickle")

    journal._dump = broken
    journal.open()
    write(store, journal, "a", 1)
    write(store, journal, "b", 2)  # forks a compaction that fails
    journal.wait_for_child()
    assert journal.compactions == 0 and not list(tmp_path.glob("snapshot*"))
    journal.close(compact=False)
    again = Store()
    assert again.journal(tmp_path).open().replayed == 2 and again.data == {"a": 1, "b": 2}


def test_a_snapshot_that_cannot_be_written_at_close_keeps_the_journal(tmp_path):
    store = Store()
    said: list[str] = []
    journal = store.journal(tmp_path, compact_every=0, log=said.append)
    journal.open()
    write(store, journal, "a", 1)

    def broken(f) -> None:
        raise TypeError("cannot pickle 'generator' object")

    journal._dump = broken
    assert journal.close() is False
    assert any("could not write a snapshot (TypeError" in line for line in said)
    assert not list(tmp_path.glob("snapshot*"))
    again = Store()
    assert again.journal(tmp_path).open().replayed == 1 and again.data == {"a": 1}


def test_a_state_dir_that_cannot_be_made_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StateError, match="cannot use .*/file/moto for moto's state"):
        Store().journal(tmp_path / "file" / "moto").open()


def test_a_stuck_compaction_is_ended_and_retried(tmp_path):
    store = Store()
    said: list[str] = []
    journal = store.journal(tmp_path, compact_every=2, log=said.append)
    journal.child_timeout = 0.5
    real_dump = store.dump

    def stuck(f) -> None:
        import time

        time.sleep(60)

    journal._dump = stuck
    journal.open()
    write(store, journal, "a", 1)
    write(store, journal, "b", 2)  # forks a child that never finishes
    import time

    time.sleep(0.6)
    journal._dump = real_dump
    write(store, journal, "c", 3)  # ends the stuck child, counts its writes again, starts a new compaction
    journal.wait_for_child()
    assert any("background compaction failed (exit status -9)" in line for line in said)
    assert journal.compactions == 1
    journal.close(compact=False)
    again = Store()
    stats = again.journal(tmp_path).open()
    assert stats.snapshot and again.data == {"a": 1, "b": 2, "c": 3}
