"""The engine-neutral core: pure, no I/O.

The stack model and its loader (parse -> schema -> validators), templating, the resolver (one pure
``resolve(stack, options) -> Plan`` for both engines and the operator), deterministic ids, the
restart backoff, the generated CRD and JSON Schema, the contract every engine and client agrees on
(``contract``), and the one exception tree (``errors``). Nothing here imports anything above it
(the import-linter contracts in pyproject.toml check it).
"""
