"""Item 3: the repo's own `hippodrome.yaml`, applied with `kubectl apply -n <ns> -f`, rolls out under the
operator (the chart's command and identity), loses nothing, and `kubectl get hippodromestacks` shows
Profile, Cell, Phase, Ready and Layer with true values on every row it prints, while rolling out and at
Ready. (`kubectl explain` is in test_chart_on_cluster.py.)
"""

from __future__ import annotations

import subprocess
import threading

import yaml

from chart_operator import REPO, get_json, wait_for
from cluster_stacks import missing
from recorder import Recorder

STACK_FILE = REPO / "hippodrome.yaml"


def _truth(obj: dict) -> tuple[str, ...]:
    """What the printer columns should say for `obj` (NAME PROFILE CELL PHASE READY LAYER; AGE aside)."""
    spec, status = obj["spec"], obj.get("status") or {}
    return (obj["metadata"]["name"], spec["profile"], spec["cell"], str(status.get("phase", "")),
            str(status.get("readyServices", "")), str(status.get("currentLayer", "")))


def _row(line: str) -> tuple[str, ...]:
    """A watched table row: 7 cells once the operator wrote a status; 4 (the status cells blank) before."""
    cells = line.split()
    if len(cells) == 7:
        return tuple(cells[:6])
    assert len(cells) == 4, f"unexpected row {line!r}"
    return (*cells[:3], "", "", "")


def test_the_repos_stack_file_rolls_out_with_true_printer_columns(crd, namespace, chart_operator):
    cp = crd
    sent = yaml.safe_load(STACK_FILE.read_text())
    layers = max(s["layer"] for s in sent["spec"]["services"])
    # -v=6 logs each request: the table is watched once kubectl's `watch=true` request is answered
    table = subprocess.Popen([str(cp.kubectl), f"--kubeconfig={cp.kubeconfig}", "-n", namespace, "get",
                              "hippodromestacks", "--watch", "-v=6"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    requests_log: list[str] = []
    printed: list[str] = []
    readers = [threading.Thread(target=lambda: requests_log.extend(table.stderr), daemon=True),
               threading.Thread(target=lambda: printed.extend(table.stdout), daemon=True)]
    for reader in readers:
        reader.start()
    try:
        wait_for(lambda: table.poll() is not None or any("watch=true" in line for line in requests_log),
                 "kubectl's watch to start", 30)
        with Recorder(cp.kubeconfig, "hippodromestacks", namespace) as stacks:
            cp.kubectl_run("-n", namespace, "apply", "-f", str(STACK_FILE))
            wait_for(lambda: any((e.obj.get("status") or {}).get("phase") == "Ready" for e in stacks.events),
                     "phase Ready", timeout=120, operator=chart_operator)
        wait_for(lambda: any(" Ready " in line for line in printed), "kubectl to print the Ready row", 30)
    finally:
        table.terminate()
        table.wait(10)
        for reader in readers:
            reader.join(timeout=5)  # the pipes reach EOF once kubectl is gone
        table.stdout.close()
        table.stderr.close()
    rows = [_row(line) for line in printed if line.strip() and not line.startswith("NAME ")]
    truths = [_truth(e.obj) for e in stacks.events]
    wrong = [r for r in rows if r not in truths]
    assert not wrong, f"rows not matching any state of the object: {wrong}\nstates: {truths}"

    spec = sent["spec"]
    total = str(sum(1 for s in spec["services"]
                    if spec["profile"] in s.get("profiles", [spec["profile"]]) and spec["cell"] in s.get("cells", [spec["cell"]])))
    rolling = [r for r in rows if r[3] in ("Pending", "Progressing") and r[4] != f"{total}/{total}"]
    assert rolling, f"no row while rolling out: {rows}"
    assert any(int(r[5]) < layers for r in rolling if r[5]), f"no row from an earlier layer: {rows}"
    assert rows[-1] == ("dev", "full", "local", "Ready", f"{total}/{total}", str(layers)), rows

    stored = get_json(cp, "-n", namespace, "get", "hippodromestack", "dev")
    assert not missing(sent["spec"], stored["spec"], "spec"), "the API server pruned or changed the spec"
    status = stored["status"]
    assert sum(1 for s in status["services"].values() if s["ready"]) == int(total)
