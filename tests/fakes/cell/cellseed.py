"""HIPPODROME_SEED_CONFIG for the cell tests, rendered by the real resolver from a small stack file."""

from __future__ import annotations

from typing import Any

from hippodrome_k8s.core.loader import load_stack_data
from hippodrome_k8s.core.resolver import ResolveOptions, resolve

DEFAULT_ACCOUNTS = [{"name": "demo", "apiKeys": ["default", "ci"]}, {"name": "system", "apiKeys": ["cell"]}]


def stack_doc(accounts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "hippodrome.dev/v1alpha1", "kind": "HippodromeStack", "metadata": {"name": "seeded"},
        "spec": {
            "seedData": {"accounts": accounts},
            "services": [{"name": "fake_cell", "port": 9001, "layer": 0, "cells": ["local"],
                          "env": {"HIPPODROME_SEED_CONFIG": "${seedData.config}"}, "run": {"command": ["unused"]}}],
        },
    }


def seed_env(seed: str, accounts: list[dict[str, Any]] | None = None) -> str:
    """HIPPODROME_SEED_CONFIG exactly as the resolver renders it for a stack's fake_cell."""
    plan = resolve(load_stack_data(stack_doc(accounts or DEFAULT_ACCOUNTS)), ResolveOptions(seed=seed))
    return plan.service("fake_cell").env["HIPPODROME_SEED_CONFIG"]
