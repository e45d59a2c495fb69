"""Which indexes an API key may see: the account scope bound to the key when it was registered.

Why: one cell serves every account of a control plane, which names each account's indexes with a
prefix of its own (the reference controller: `<account id>-<index>`). A key registered with an
`indexPrefix` sees and touches only the indexes whose names start with it; the others are absent
from `GET /indexes` and answer 404 `index_not_found`, exactly as if they did not exist, so a key
learns nothing about other accounts (not even that a name is taken: creating an index outside
the prefix is refused the same way whether or not it exists). A key registered without a prefix
(a system account's key, such as the stack's CELL_API_KEY) sees every index, and so does a
request without a key when the stack does not require one. The naming rule itself belongs to the
control plane: the prefix is whatever the registration says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .errors import CellError, index_not_found, invalid

MAX_PREFIX = 128


@dataclass(frozen=True)
class Scope:
    account_id: str | None = None
    index_prefix: str | None = None  # None or "": every index

    @property
    def unrestricted(self) -> bool:
        return not self.index_prefix

    def sees(self, index_name: str) -> bool:
        return not self.index_prefix or index_name.startswith(self.index_prefix)

    def visible(self, index_names: Iterable[str]) -> list[str]:
        return [name for name in index_names if self.sees(name)]

    def existing(self, index_name: str) -> str:
        """The name, if this scope may touch it; else the 404 an unknown index gets."""
        if not self.sees(index_name):
            raise index_not_found(index_name)
        return index_name

    def creatable(self, index_name: str) -> str:
        if not self.sees(index_name):
            raise CellError(403, "index_name_not_allowed",
                            f"This API key may only create indexes whose names start with {self.index_prefix!r}")
        return index_name


EVERYTHING = Scope()


def parse_prefix(value: Any, where: str = "indexPrefix") -> str | None:
    """A registration's `indexPrefix`: absent/null (every index) or a string."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_PREFIX:
        raise invalid(f"Invalid value for '{where}': a string of at most {MAX_PREFIX} characters, "
                      "or null for a key that sees every index")
    return value
