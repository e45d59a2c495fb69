"""Per-account isolation in a shared cell: the one mapping from (account, index) to a cell index.

Customers name their indexes freely; two accounts may both have ``products``.  In the cell
each becomes ``<account_id>-<index>``.  Account ids never contain ``-``, so the first ``-``
splits the cell name back unambiguously.  The controller (creating indexes) and
search_proxy (routing data-plane calls) both use these functions, and nothing else builds a
cell index name.
"""

from __future__ import annotations

import re

from .errors import invalid

INDEX_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
ACCOUNT_ID = re.compile(r"^[A-Za-z0-9_]{1,40}$")


def check_index_name(name: str, field: str = "indexName") -> str:
    if not isinstance(name, str) or not INDEX_NAME.match(name):
        raise invalid(field, "an index name is 1-64 letters, digits, '_' or '-', starting with a letter or digit")
    return name


def cell_index_name(account_id: str, index_name: str) -> str:
    if not ACCOUNT_ID.match(account_id):
        raise ValueError(f"not an account id: {account_id!r}")
    return f"{account_id}-{check_index_name(index_name)}"


def split_cell_index_name(cell_name: str) -> tuple[str, str]:
    """``(account_id, index_name)`` of a cell index name made by :func:`cell_index_name`."""
    account, sep, index = cell_name.partition("-")
    if not sep or not ACCOUNT_ID.match(account) or not INDEX_NAME.match(index):
        raise invalid("index", f"{cell_name!r} is not a cell index name of the form <account>-<index>")
    return account, index
