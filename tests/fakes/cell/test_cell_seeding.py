"""Seeding the fake cell's API keys (hippodrome_k8s.seeding), as the engine does between layers 0 and 1."""

from __future__ import annotations

import marqo
import pytest

from hippodrome_k8s import ids
from hippodrome_k8s.errors import BootstrapError
from hippodrome_k8s.loader import load_stack_data
from hippodrome_k8s.model import Cell
from hippodrome_k8s.resolver import ResolveOptions, resolve
from hippodrome_k8s.seeding import register_cell_api_keys


def plan_for(port: int, secret: str, seed: str = "42"):
    doc = {
        "apiVersion": "hippodrome.dev/v1alpha1", "kind": "HippodromeStack", "metadata": {"name": "seeded"},
        "spec": {
            "seedData": {"accounts": [{"name": "demo", "apiKeys": ["default", "ci"]}, {"name": "system", "apiKeys": ["cell"]}]},
            "services": [{"name": "fake_cell", "port": port, "allowPortOutsideRange": True, "layer": 0, "cells": ["local"],
                          "run": {"command": ["unused"]}}],
        },
    }
    return resolve(load_stack_data(doc), ResolveOptions(seed=seed, encryption_secret=secret))


def test_keys_are_registered_idempotently_and_work_with_the_marqo_client(cell_factory):
    cell = cell_factory(FAKE_CELL_REQUIRE_API_KEY="true")
    plan = plan_for(cell.port, cell.secret)
    lines: list[str] = []
    assert register_cell_api_keys(plan, log=lines.append) == 3
    assert register_cell_api_keys(plan, log=lines.append) == 3  # a duplicate is success
    assert lines == ["seeding: 3 API keys registered in fake_cell"] * 2
    key = ids.api_key("42", "demo", "default")
    client = marqo.Client(url=cell.url, api_key=key)
    assert client.get_indexes()["results"] == []
    with pytest.raises(marqo.errors.MarqoWebError):
        marqo.Client(url=cell.url, api_key=ids.api_key("43", "demo", "default")).get_indexes()


def test_the_same_seed_gives_the_same_keys_and_another_seed_other_keys():
    assert plan_for(1, "s", seed="7").seed_data == plan_for(1, "s", seed="7").seed_data
    assert plan_for(1, "s", seed="7").seed_data != plan_for(1, "s", seed="8").seed_data


def test_a_failure_names_the_account_and_key(cell_factory):
    cell = cell_factory()
    with pytest.raises(BootstrapError) as caught:
        register_cell_api_keys(plan_for(cell.port, secret="not-the-cells-secret"), log=lambda _: None)
    assert "failed to seed API key demo/default in fake_cell: HTTP 401" in str(caught.value)


def test_no_fake_cell_means_nothing_to_seed():
    doc = {"apiVersion": "hippodrome.dev/v1alpha1", "kind": "HippodromeStack", "metadata": {"name": "x"},
           "spec": {"cells": {"staging": {"url": "https://cell.example"}},
                    "seedData": {"accounts": [{"name": "demo"}]},
                    "services": [{"name": "fake_cell", "port": 9001, "layer": 0, "cells": ["local"], "run": {"command": ["x"]}},
                                 {"name": "api", "port": 9002, "layer": 0, "run": {"command": ["x"]}}]}}
    plan = resolve(load_stack_data(doc), ResolveOptions(seed="1", cell=Cell.staging))
    assert plan.local_cell_service is None
    assert register_cell_api_keys(plan, log=lambda _: None) == 0
