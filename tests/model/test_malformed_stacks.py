"""Malformed stack files: each gives exactly the expected problem (field path, message, line)."""

from __future__ import annotations

import pytest

from hippodrome_k8s.core.errors import StackFileError
from hippodrome_k8s.core.loader import load_stack_text

BASE = """\
apiVersion: hippodrome.dev/v1alpha1
kind: HippodromeStack
metadata:
  name: demo
spec:
  aws:
    tables:
      - name: accounts
        hashKey: {name: id}
    queues:
      - name: ingest
  services:
    - name: moto
      port: 9003
      layer: 0
      run: {command: [python, -m, fakes.fake_aws]}
    - name: api
      port: 9002
      layer: 1
      env: {AWS: "${services.moto.url}", T: "${tables.accounts}"}
      run: {command: [python, -m, api]}
"""


def edit(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_base_is_valid():
    stack = load_stack_text(BASE, "base.yaml")
    assert [s.name for s in stack.spec.services] == ["moto", "api"]


# nine levels of nine aliases: 9**9 values once followed, in 580 bytes
BOMB = "  x0: &a0 [" + ", ".join(["lol"] * 9) + "]\n" + "".join(
    f"  x{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 9) + "]\n" for k in range(1, 9))
WEB = """    - name: web
      port: 9004
      layer: 1
      env: {env}
      run: {{command: [python, -m, web]}}
"""

# (id, text, path, message fragment, line)
CASES = [
    ("not-yaml", edit("  services:\n", "  services: [\n"), "", "not valid YAML", 13),
    ("empty-file", "", "", "the file is empty", 1),
    ("not-a-mapping", "- a\n- b\n", "", "expected a HippodromeStack mapping", 1),
    ("wrong-api-version", edit("hippodrome.dev/v1alpha1", "hippodrome.dev/v2"), "apiVersion", "is not allowed", 1),
    ("wrong-kind", edit("kind: HippodromeStack", "kind: Stack"), "kind", "is not allowed", 2),
    ("missing-metadata", edit("metadata:\n  name: demo\n", ""), "metadata", "required field is missing", 1),
    ("bad-metadata-name", edit("name: demo", "name: Demo_X"), "metadata.name", "does not match", 4),
    ("unknown-service-field", edit("      port: 9002\n", "      prot: 9002\n      port: 9002\n"), "spec.services[1].prot",
     "unknown field", 18),
    ("missing-port", edit("      port: 9002\n", ""), "spec.services[1].port", "required field is missing", 17),
    ("port-not-int", edit("port: 9002", "port: abc"), "spec.services[1].port", "valid integer", 18),
    ("port-too-big", edit("port: 9002", "port: 70000"), "spec.services[1].port", "less than or equal to 65535", 18),
    ("port-out-of-range", edit("port: 9002", "port: 8080"), "spec.services[1].port", "outside 9000-9019", 18),
    ("duplicate-port", edit("port: 9002", "port: 9003"), "spec.services[1].port", "already used by service 'moto'", 18),
    ("dashboard-port-taken", edit("port: 9002", "port: 9000"), "spec.services[1].port", "already used by the dashboard", 18),
    ("duplicate-name", edit("- name: api", "- name: moto"), "spec.services[1].name", "duplicate service name 'moto'", 17),
    ("bad-service-name", edit("- name: api", "- name: Api"), "spec.services[1].name", "does not match", 17),
    ("negative-layer", edit("layer: 1", "layer: -1"), "spec.services[1].layer", "greater than or equal to 0", 19),
    ("layer-gap", edit("layer: 1", "layer: 2"), "spec.services[1].layer", "no service is in layer 1", 19),
    ("no-layer-zero", edit("layer: 1", "layer: 2", edit("layer: 0", "layer: 1")), "spec.services[0].layer",
     "no service is in layer 0", 15),
    ("unknown-profile", edit("      layer: 1\n", "      layer: 1\n      profiles: [core, prod]\n"),
     "spec.services[1].profiles[1]", "'prod' is not allowed", 20),
    ("unknown-cell", edit("      layer: 1\n", "      layer: 1\n      cells: [dev]\n"), "spec.services[1].cells[0]",
     "'dev' is not allowed", 20),
    ("empty-profiles", edit("      layer: 1\n", "      layer: 1\n      profiles: []\n"), "spec.services[1].profiles",
     "would never run", 20),
    ("unknown-service-reference", edit("${services.moto.url}", "${services.nope.url}"), "spec.services[1].env.AWS",
     "unknown reference ${services.nope.url}", 20),
    ("unknown-table-reference", edit("${tables.accounts}", "${tables.users}"), "spec.services[1].env.T",
     "unknown reference ${tables.users} (known here: accounts)", 20),
    ("unknown-namespace", edit("${tables.accounts}", "${foo}"), "spec.services[1].env.T", "unknown reference ${foo}", 20),
    ("unknown-attribute", edit("${services.moto.url}", "${services.moto.uri}"), "spec.services[1].env.AWS",
     "unknown reference ${services.moto.uri}", 20),
    ("reference-to-mapping", edit("${services.moto.url}", "${services.moto}"), "spec.services[1].env.AWS",
     "known here: host, name, port, url", 20),
    ("blocking-upward-dependency", edit("      layer: 0\n", "      layer: 0\n      env: {API: \"${services.api.url}\"}\n"),
     "spec.services[0].env.API", "depends on 'api' (layer 1), which starts after it", 16),
    ("bad-env-name", edit("env: {AWS:", "env: {1BAD:"), "spec.services[1].env.1BAD", "not a valid environment variable name", 20),
    ("duplicate-yaml-key", edit("      port: 9002\n", "      port: 9002\n      port: 9004\n"), "spec.services[1].port",
     "duplicate key", 19),
    ("health-path-no-slash", edit("      layer: 1\n", "      layer: 1\n      health: {path: healthz}\n"),
     "spec.services[1].health.path", "does not match ^/", 20),
    ("empty-command", edit("command: [python, -m, api]", "command: []"), "spec.services[1].run.command",
     "at least 1 item", 21),
    ("reload-without-watch", edit("command: [python, -m, api]}", "command: [python, -m, api], reload: true}"),
     "spec.services[1].run.watch", "needs at least one path", 21),
    ("subscription-to-unknown-queue", edit("    queues:\n", "    topics:\n      - name: ev\n        subscriptions: [{queue: nope}]\n    queues:\n"),
     "spec.aws.topics[0].subscriptions[0].queue", "no queue named 'nope'", 12),
    ("duplicate-table", edit("    queues:\n", "      - name: accounts\n        hashKey: {name: id}\n    queues:\n"),
     "spec.aws.tables[1].name", "duplicate name 'accounts'", 10),
    ("bad-key-type", edit("hashKey: {name: id}", "hashKey: {name: id, type: X}"), "spec.aws.tables[0].hashKey.type",
     "'X' is not allowed", 9),
    ("no-aws-emulator", edit("- name: moto", "- name: aws").replace("${services.moto.url}", "${services.aws.url}"),
     "spec.aws.endpointService", "no service named 'moto'", 6),
    ("cognito-unknown-group", edit("  services:\n", "  cognito:\n    userPools:\n      - name: main\n        users:\n"
                                   "          - {username: a, password: Password-1, groups: [admins]}\n  services:\n"),
     "spec.cognito.userPools[0].users[0].groups", "no group named 'admins'", 16),
    ("account-owner-unknown", edit("  services:\n", "  seedData:\n    accounts:\n      - {name: demo, owner: bob}\n  services:\n"),
     "spec.seedData.accounts[0].owner", "no Cognito user named 'bob'", 14),
    ("staging-cell-without-url", edit("spec:\n", "spec:\n  cell: staging\n"), "spec.cell",
     "needs spec.cells.staging.url", 6),
    ("dashboard-port-out-of-range", edit("spec:\n", "spec:\n  dashboard: {port: 8000}\n"), "spec.dashboard.port",
     "outside 9000-9019", 6),
    ("null-in-state-machine", edit("    queues:\n", "    stateMachines:\n      - name: m\n        definition: {StartAt: A, "
                                   "States: {A: {Type: Pass, ResultPath: null, End: true}}}\n    queues:\n"),
     "spec.aws.stateMachines[0].definition.States.A.ResultPath", "null is not kept when the stack is applied to Kubernetes", 12),
    ("missing-services", BASE.split("  services:")[0], "spec.services", "required field is missing", 5),
    # issue 14: files that could hurt are refused before any object is built, each with file:line
    ("python-object-tag", edit("name: demo", "name: !!python/object/apply:os.system [echo pwned]"), "",
     "tag tag:yaml.org,2002:python/object/apply:os.system is not allowed", 4),
    ("list-as-mapping-key", edit("  name: demo\n", "  name: demo\n  [a, b]: x\n"), "",
     "a mapping key must be a plain value", 5),
    ("mapping-as-mapping-key", edit("  name: demo\n", "  name: demo\n  ? {a: 1}\n  : x\n"), "",
     "a mapping key must be a plain value", 5),
    ("nested-5000-deep", edit("  services:\n", "  deep: " + "[" * 5000 + "]" * 5000 + "\n  services:\n"), "",
     "nested deeper than 64 levels", 12),
    ("alias-bomb", edit("  services:\n", BOMB + "  services:\n"), "", "the aliases stand for more than 100,000 values", 17),
    ("too-many-aliases", edit("  services:\n", "  s: &s x\n  many: [" + ", ".join(["*s"] * 101) + "]\n  services:\n"),
     "", "more than 100 aliases", 13),
    ("alias-inside-its-anchor", edit("  services:\n", "  loop: &l [a, *l]\n  services:\n"), "",
     "alias *l is inside its own anchor &l", 12),
    ("file-over-2-mib", BASE + "# " + "x" * (2 * 1024 * 1024) + "\n", "", "a stack file may have at most 2,097,152", 1),
    ("unterminated-reference", edit("${tables.accounts}", "${links.moto"), "spec.services[1].env.T",
     "unterminated reference '${links.moto'", 20),
    ("reference-cycle-within-a-layer", edit("T: \"${tables.accounts}\"}", "T: \"${tables.accounts}\", W: \"${services.web.url}\"}")
     + WEB.format(env='{A: "${services.api.url}"}'), "spec.services[1].env.W",
     "reference cycle within layer 1: api -> web -> api", 20),
    ("short-password", edit("  services:\n", "  cognito:\n    userPools:\n      - name: main\n        users:\n"
                            "          - {username: a, password: short}\n  services:\n"),
     "spec.cognito.userPools[0].users[0].password", "at least 8 characters", 16),
]


@pytest.mark.parametrize("text,path,fragment,line", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_stack_gives_exact_problem(text, path, fragment, line):
    with pytest.raises(StackFileError) as caught:
        load_stack_text(text, "bad.yaml")
    problems = caught.value.problems
    matching = [p for p in problems if p.path == path and fragment in p.message]
    assert matching, f"expected {path}: ...{fragment}... in {[(p.path, p.message, p.line) for p in problems]}"
    assert matching[0].line == line
    rendered = str(caught.value)
    assert rendered.startswith("invalid stack file bad.yaml:")
    assert f"bad.yaml:{line}: " in rendered if line else "bad.yaml: " in rendered


def test_at_least_thirty_cases():
    assert len(CASES) >= 30


def test_every_problem_is_reported_in_one_pass():
    text = edit("port: 9002", "port: 8080", edit("${tables.accounts}", "${tables.users}"))
    with pytest.raises(StackFileError) as caught:
        load_stack_text(text, "bad.yaml")
    paths = {p.path for p in caught.value.problems}
    assert {"spec.services[1].port", "spec.services[1].env.T"} <= paths


def test_schema_and_cross_field_problems_are_reported_together():
    """Regression: a service missing `run` hid its duplicate port."""
    text = edit("      run: {command: [python, -m, api]}\n", "").replace("port: 9002", "port: 9003")
    with pytest.raises(StackFileError) as caught:
        load_stack_text(text, "bad.yaml")
    found = {(p.path, p.line) for p in caught.value.problems}
    assert ("spec.services[1].run", 17) in found
    assert ("spec.services[1].port", 18) in found
    assert any("already used by service 'moto'" in p.message for p in caught.value.problems)


def test_problems_about_the_stand_ins_are_not_reported():
    text = edit("      port: 9002\n", "")  # the stand-in port would be outside 9000-9019: not reported
    with pytest.raises(StackFileError) as caught:
        load_stack_text(text, "bad.yaml")
    assert [(p.path, p.message) for p in caught.value.problems] == [("spec.services[1].port", "required field is missing")]


def test_a_python_tag_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    text = edit("name: demo", f"name: !!python/object/apply:os.system [touch {marker}]")
    with pytest.raises(StackFileError):
        load_stack_text(text, "bad.yaml")
    assert not marker.exists()


def test_validate_refuses_a_hostile_file_with_exit_2_and_file_line(tmp_path, capsys):
    from hippodrome_k8s.cli.main import main

    path = tmp_path / "hippodrome.yaml"
    path.write_text(edit("  services:\n", BOMB + "  services:\n"))
    with pytest.raises(SystemExit) as exited:
        main(["validate", "-f", str(path)])
    assert exited.value.code == 2
    assert f"{path}:17: the aliases stand for more than 100,000 values" in capsys.readouterr().err


def test_a_one_way_reference_within_a_layer_and_a_services_own_url_stay_allowed():
    text = edit("T: \"${tables.accounts}\"}", "T: \"${tables.accounts}\", W: \"${services.web.url}\"}") \
        + WEB.format(env='{SELF: "${services.web.url}", L: "${links.api}"}')
    stack = load_stack_text(text, "ok.yaml")
    assert [s.name for s in stack.spec.services] == ["moto", "api", "web"]


def test_a_longer_cycle_is_named_once():
    text = edit("T: \"${tables.accounts}\"}", "T: \"${tables.accounts}\", W: \"${services.web.url}\"}") \
        + WEB.format(env='{X: "${services.web2.url}"}') \
        + WEB.replace("web", "web2").replace("9004", "9006").format(env='{A: "${services.api.url}"}')
    with pytest.raises(StackFileError) as caught:
        load_stack_text(text, "bad.yaml")
    cycles = [p.message for p in caught.value.problems if "reference cycle" in p.message]
    assert len(cycles) == 1 and "api -> web -> web2 -> api" in cycles[0]


def test_aliases_within_the_limits_load():
    text = edit("  services:\n", "  env: &common {A: a, B: b}\n  services:\n").replace(
        "      run: {command: [python, -m, api]}\n", "      run: {command: [python, -m, api]}\n      env: *common\n")
    text = text.replace('      env: {AWS: "${services.moto.url}", T: "${tables.accounts}"}\n', "")
    assert load_stack_text(text, "ok.yaml").spec.services[1].env == {"A": "a", "B": "b"}


def test_thousands_of_problems_print_the_first_50_and_the_count():
    services = "".join(f"    - {{name: s{i}, port: 8000, layer: 0, run: {{command: [x]}}}}\n" for i in range(3000))
    text = BASE.split("  services:")[0] + "  services:\n" + services
    with pytest.raises(StackFileError) as caught:
        load_stack_text(text, "bad.yaml")
    problems = caught.value.problems
    assert len(problems) > 3000  # all of them are kept for callers
    lines = str(caught.value).splitlines()
    assert len(lines) == 1 + 50 + 1
    assert lines[-1] == f"  ... and {len(problems) - 50:,} more ({len(problems):,} problems in all; the first 50 are shown)"
