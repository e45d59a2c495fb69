"""Console prefixes and the supervisor's own log: no red (it reads as an error), timestamps in hippodrome.log."""

from __future__ import annotations

import io
import re

from hippodrome_k8s.local.logs import open_service_logs


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_service_and_not_the_supervisor_is_printed_in_red(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    console = Tty()
    names = [f"svc{i}" for i in range(15)] + ["hippodrome"]
    logs = open_service_logs(tmp_path, names, console)
    for name in names:
        logs[name].write("hello")
        logs[name].close()
    codes = re.findall(r"\x1b\[(\d+)m\w+\s*\x1b\[0m \| hello", console.getvalue())
    assert len(codes) == len(names)
    assert not {"31", "91"} & set(codes), codes
    assert codes[-1] == "1"  # the supervisor: bold, not a colour


def test_the_supervisor_log_file_is_timestamped_and_service_logs_are_verbatim(tmp_path):
    logs = open_service_logs(tmp_path, ["api", "hippodrome"], None)
    logs["api"].write("plain line")
    logs["hippodrome"].write("api: starting -> running ready")
    for log in logs.values():
        log.close()
    assert (tmp_path / "api.log").read_text() == "plain line\n"
    stamped = (tmp_path / "hippodrome.log").read_text()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} api: starting -> running ready\n", stamped), stamped
