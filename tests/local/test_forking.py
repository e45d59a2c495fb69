"""Which commands the fork server may start (pure, table-tested), and botocore's shared models in a forked service."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from hippodrome_k8s.local.forking import (FORKED_FIRST, ForkTarget, fork_server_enabled, fork_target, server_env,
                                          server_fits)
from hippodrome_k8s.local.forkserver import talks

PY = "/venv/bin/python"
SERVER = {"PATH": "/bin", "PYTHONUNBUFFERED": "1"}


STATE = {"HIPPODROME_STATE_DIR": "/p/.hippodrome/state"}


@pytest.mark.parametrize("started_with, wanted, fits", [
    ({**SERVER, **STATE}, {**SERVER, **STATE}, True),
    ({**SERVER, **STATE, "HOME": "/a", "NO_COLOR": "1"}, {**SERVER, **STATE, "HOME": "/b"}, True),  # reaches no child
    ({**SERVER, **STATE}, {**SERVER, **STATE, "PYTHONNODEBUGRANGES": "1"}, False),  # the stack's services set it
    ({**SERVER, **STATE}, {"PATH": "/bin", **STATE}, False),
    ({**SERVER, **STATE, "AIOHTTP_NO_EXTENSIONS": "1"}, {**SERVER, **STATE}, False),
    ({**SERVER, **STATE}, {**SERVER, "HIPPODROME_STATE_DIR": "/q/.hippodrome/state"}, False),  # another project
    (SERVER, {**SERVER, **STATE}, False),
])
def test_a_server_started_before_the_stack_was_loaded_fits_it_or_not(started_with, wanted, fits):
    assert server_fits(started_with, wanted) is fits


@pytest.mark.parametrize("command, env, expected", [
    ([PY, "-m", "examples.controller"], SERVER, ForkTarget(argv=("-m",), module="examples.controller")),
    ([PY, "-m", "fakes.fake_aws"], SERVER, ForkTarget(argv=("-m",), module="fakes.fake_aws", first=True)),
    ([PY, "-m", "pkg.mod", "--flag", "x"], SERVER, ForkTarget(argv=("-m", "--flag", "x"), module="pkg.mod")),
    ([PY, "svc.py", "--delay", "1"], SERVER, ForkTarget(argv=("svc.py", "--delay", "1"), path="svc.py")),
    ([PY, "-u", "svc.py"], SERVER, None),  # an interpreter option only a real interpreter honours
    ([PY, "-c", "print(1)"], SERVER, None),
    ([PY, "-m"], SERVER, None),
    ([PY, "-m", "-x"], SERVER, None),
    ([PY], SERVER, None),
    (["/other/python", "-m", "mod"], SERVER, None),  # another interpreter: other libraries
    (["node", "server.js"], SERVER, None),
    ([PY, "-m", "mod"], {**SERVER, "PYTHONPATH": "/src"}, None),  # read when the interpreter starts
    ([PY, "-m", "mod"], {"PATH": "/bin"}, None),  # PYTHONUNBUFFERED unset here, set in the server: differs
    ([PY, "-m", "mod"], {**SERVER, "AIOHTTP_NO_EXTENSIONS": "1"}, None),  # read when aiohttp is imported
    ([PY, "-m", "mod"], {**SERVER, "PORT": "9002", "OTHER": "x"}, ForkTarget(argv=("-m",), module="mod")),
], ids=["module", "module-forked-first", "module-args", "script", "option-u", "option-c", "m-alone", "m-option", "bare", "other-python",
        "node", "own-pythonpath", "unbuffered-differs", "aiohttp-env", "ordinary-env"])
def test_fork_target(command, env, expected):
    assert fork_target(command, env, SERVER, PY) == expected


@pytest.mark.parametrize("envs, expected", [
    ([], {}),
    ([{"PYTHONUNBUFFERED": "1", "PORT": "1"}, {"PYTHONUNBUFFERED": "1", "PORT": "2"}], {"PYTHONUNBUFFERED": "1"}),
    ([{"PYTHONUNBUFFERED": "1"}, {"PYTHONUNBUFFERED": "0"}], {}),  # not shared: the server sets neither
    ([{"PYTHONUNBUFFERED": "1", "PYTHONPATH": "/a"}, {"PYTHONUNBUFFERED": "1"}], {"PYTHONUNBUFFERED": "1"}),
])
def test_the_server_takes_the_read_at_start_variables_every_service_shares(envs, expected):
    assert server_env(envs) == expected


@pytest.mark.parametrize("environ, platform, has_fork, expected", [
    ({}, "linux", True, True),
    ({"HIPPODROME_FORK_SERVER": "0"}, "linux", True, False),
    ({"HIPPODROME_FORK_SERVER": "off"}, "linux", True, False),
    ({"HIPPODROME_FORK_SERVER": "1"}, "linux", True, True),
    ({}, "darwin", True, False),
    ({}, "win32", False, False),
])
def test_the_fork_server_runs_on_linux_unless_turned_off(environ, platform, has_fork, expected):
    assert fork_server_enabled(environ, platform, has_fork) is expected


def test_sessions_share_the_parsed_models_and_boto3_paths_do_not_pile_up():
    # In a process of its own: share_loaders() changes botocore for the whole process, as in the fork server.
    script = textwrap.dedent("""
        import boto3, botocore.session
        from hippodrome_k8s.local import botomodels
        botomodels.share_loaders()
        assert "dynamodb" in botomodels.warm(("dynamodb", "no-such-service"))
        sessions = [boto3.session.Session(region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
                    for _ in range(5)]
        loaders = {id(s._session.get_component("data_loader")) for s in sessions}
        assert len(loaders) == 1, loaders
        loader = sessions[0]._session.get_component("data_loader")
        assert len(loader.search_paths) == len(set(loader.search_paths)), loader.search_paths
        client = sessions[-1].client("dynamodb", endpoint_url="http://127.0.0.1:9")
        assert client.meta.service_model.service_name == "dynamodb"
        other = botocore.session.Session()
        other.set_config_variable("data_path", "/nonexistent/models")
        assert other.get_component("data_loader") is not loader  # another data path: a loader of its own
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


@pytest.mark.parametrize("event, modules, waits", [
    ("socket.connect", {}, True),
    ("socket.bind", {}, True),
    ("subprocess.Popen", {}, True),
    ("socket.__new__", {}, False),  # asyncio's loop makes its socket pair when it is made: earlier than it talks
    ("socket.__new__", {"uvloop": object()}, True),  # uvloop's connects are libuv's: held at its loop's start
    ("open", {"uvloop": object()}, False),
    ("socket.getaddrinfo", {}, False),
])
def test_what_a_held_child_waits_at(event, modules, waits):
    assert talks(event, modules) is waits


@pytest.mark.parametrize("module", sorted(FORKED_FIRST))
def test_what_is_forked_first_imports_none_of_the_last_preloaded_libraries(module):
    """A service forked before the server's last imports would import them itself, on the cores its start needs."""
    code = textwrap.dedent(f"""
        import importlib.util, sys
        from hippodrome_k8s.local.forkserver import PRELOAD_LAST
        before = set(sys.modules)
        spec = importlib.util.find_spec("{module}.__main__")
        source = open(spec.origin).read()
        exec(compile(source.split("if __name__ ==")[0], spec.origin, "exec"), {{"__name__": "probe", "__package__": "{module}"}})
        print(sorted(m for m in PRELOAD_LAST if m in sys.modules and m not in before))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
