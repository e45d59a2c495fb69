"""The encryption secret a run uses (pure), and the files that decide it.

Issue 14: it defaulted to a published value (1234567890ABCDEF) from which, with the seed, anyone forged a
token admin_server accepted. Now each project generates its own on its first run, unless
HIPPODROME_ENCRYPTION_SECRET is set, and state written under the old default keeps it, with a note.
"""

from __future__ import annotations

import pytest

from hippodrome_k8s.host.project import (LEGACY_ENCRYPTION_SECRET, ProjectPaths, choose_secret, new_secret,
                                          read_recorded_secret, record_secret, state_without_secret)


@pytest.mark.parametrize("env,recorded,old_state,new,expected", [
    ("mine", "recorded", True, "fresh", ("mine", "HIPPODROME_ENCRYPTION_SECRET")),
    (None, "recorded", True, "fresh", ("recorded", "the project")),
    (None, None, False, "fresh", ("fresh", "new")),
    (None, None, True, "fresh", (LEGACY_ENCRYPTION_SECRET, "legacy")),  # no upgrade makes existing data unreadable
    (None, LEGACY_ENCRYPTION_SECRET, False, "fresh", (LEGACY_ENCRYPTION_SECRET, "legacy")),
])
def test_choose_secret(env, recorded, old_state, new, expected):
    choice = choose_secret(env, recorded, old_state, new)
    assert (choice.secret, choice.source) == expected


def test_nothing_is_made_up_when_not_allowed():
    assert choose_secret(None, None, False, None) is None


def test_only_the_old_default_and_a_new_secret_are_announced():
    assert "old published encryption secret" in choose_secret(None, None, True, "x").note()
    assert "generated for this project" in choose_secret(None, None, False, "x").note()
    assert choose_secret(None, "kept", False, "x").note() is None
    assert choose_secret("env", None, True, "x").note() is None


def test_new_secrets_are_random_and_long():
    assert len({new_secret() for _ in range(10)}) == 10 and len(new_secret()) >= 32


def test_state_without_a_recorded_secret_is_state_written_under_the_old_default(tmp_path):
    paths = ProjectPaths(tmp_path)
    assert not state_without_secret(paths)  # no state at all: a first run
    paths.state_dir.mkdir(parents=True)
    paths.seed_file.write_text("42\n")
    assert not state_without_secret(paths)  # only the seed: nothing encrypted yet
    (paths.state_dir / "fake_cognito.sqlite3").write_bytes(b"")
    assert state_without_secret(paths)
    record_secret(paths, "s3cret")
    assert not state_without_secret(paths) and read_recorded_secret(paths) == "s3cret"
    assert paths.secret_file.stat().st_mode & 0o777 == 0o600
