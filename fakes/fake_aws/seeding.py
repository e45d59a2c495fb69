"""Seed items belong to the stack: which DynamoDB items the bootstrap puts, keeps or deletes.

The stack declares items (``spec.aws.tables[].items``, rendered with seed-derived ids).  moto's
state persists, so a later start finds the items of an earlier one.  The bootstrap records what it
seeded in a manifest (``seeded.json`` in the moto state dir) and, on every start, compares:

==============================  ============================================================
recorded, no longer declared    deleted (a seed change: the old seed's accounts and keys go)
declared, not recorded          put (the declaration wins over whatever has that key)
both, same declaration          put only if missing: the services' later changes are kept
both, declaration changed       put (the stack file changed the item)
==============================  ============================================================

Items the services or a user created themselves are never in the manifest, so never deleted.
``plan_seed_items`` is the pure decision; the manifest's file I/O is at the bottom.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

MANIFEST = "seeded.json"


@dataclass(frozen=True)
class SeedPlan:
    delete: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (table, key)
    put: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (table, item): overwrite
    ensure: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (table, item): only if missing
    manifest: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # what to record afterwards

    def removed_by_table(self) -> dict[str, int]:
        return dict(sorted(Counter(table for table, _ in self.delete).items()))


def key_names(table: Mapping[str, Any]) -> list[str]:
    names = [table["hashKey"]["name"]]
    if table.get("rangeKey"):
        names.append(table["rangeKey"]["name"])
    return names


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def plan_seed_items(recorded: Mapping[str, Mapping[str, Mapping[str, Any]]],
                    tables: list[Mapping[str, Any]]) -> SeedPlan:
    """Decide from the recorded manifest (``{table: {key_json: {"key": {...}, "digest": str}}}``)
    and the declared tables (``[{"name", "hashKey", "rangeKey"?, "items": [...]}]``).

    An item without its table's key attributes cannot be tracked: it is put as declared (and
    DynamoDB's ValidationException names the problem), never recorded."""
    plan = SeedPlan()
    declared: dict[str, dict[str, tuple[dict[str, Any], dict[str, Any], str]]] = {}
    for table in tables:
        names = key_names(table)
        for item in table.get("items") or []:
            if any(n not in item for n in names):
                plan.put.append((table["name"], dict(item)))
                continue
            key = {n: item[n] for n in names}
            declared.setdefault(table["name"], {})[_canonical(key)] = (key, dict(item), _canonical(item))
    for table_name, items in recorded.items():
        for key_json, record in items.items():
            if key_json not in declared.get(table_name, {}):
                plan.delete.append((table_name, dict(record["key"])))
    for table_name, items in declared.items():
        for key_json, (key, item, canonical) in items.items():
            digest = hashlib.sha256(canonical.encode()).hexdigest()
            before = recorded.get(table_name, {}).get(key_json)
            if before is not None and before.get("digest") == digest:
                plan.ensure.append((table_name, item))
            else:
                plan.put.append((table_name, item))
            plan.manifest.setdefault(table_name, {})[key_json] = {"key": key, "digest": digest}
    return plan


def describe_removal(plan: SeedPlan, old_seed: str | None, new_seed: str | None) -> str | None:
    """The line to print when seeded items were removed, or None when none were."""
    counts = plan.removed_by_table()
    if not counts:
        return None
    total = sum(counts.values())
    detail = ", ".join(f"{table}: {n}" for table, n in counts.items())
    noun = "item" if total == 1 else "items"
    if old_seed is not None and new_seed is not None and old_seed != new_seed:
        return f"seed changed ({old_seed} -> {new_seed}): removed {total} seeded {noun} ({detail})"
    return f"removed {total} seeded {noun} no longer declared ({detail})"


# --- the manifest file ----------------------------------------------------------------------------


def read_manifest(directory: Path) -> tuple[str | None, dict[str, dict[str, dict[str, Any]]]]:
    """(seed recorded, items recorded); nothing recorded yet is (None, {}).  A damaged file is a
    ValueError naming it (deleting it makes the bootstrap forget which items it seeded)."""
    path = directory / MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None, {}
    except ValueError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); remove it to forget which items were seeded") from None
    if not isinstance(data, dict) or not isinstance(data.get("tables", {}), dict):
        raise ValueError(f"{path} is not a seed manifest; remove it to forget which items were seeded")
    return data.get("seed"), data.get("tables", {})


def write_manifest(directory: Path, seed: str | None, tables: Mapping[str, Any]) -> None:
    """Atomically (a process killed mid-write leaves the old manifest)."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{MANIFEST}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"seed": seed, "tables": tables}, indent=1, sort_keys=True))
    os.replace(tmp, directory / MANIFEST)
