"""Packages whose ``__init__`` runs only when one of its own names is first asked for.

Why: moto's Step Functions interpreter imports ``moto.batch.utils`` for one enum (``JobStatus``). Python
imports a package before its submodule, and ``moto/batch/__init__.py`` imports Batch's models, which
import all of EC2: 0.7 s of CPU in a 2 s start (``python -X importtime -m fakes.fake_aws``), for services
the stack never declares. Registered lazily, ``moto.batch.utils`` loads alone; the package's own
``__init__`` runs the first time anything asks it for a name it does not have yet (moto's backend
registry, ``moto.batch.batch_backends``, when a Batch request or a Batch task of a state machine comes).
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types

_lock = threading.RLock()

# moto's packages that the services the stack declares import only for a submodule
DEFERRED = ("moto.batch",)


def defer_package_init(name: str) -> None:
    """Put package ``name`` in ``sys.modules`` with its ``__path__`` but without running its ``__init__``."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return  # not an importable package here: nothing to defer
    module = importlib.util.module_from_spec(spec)

    def __getattr__(attribute: str) -> object:  # PEP 562: only for names the module does not have yet
        with _lock:
            if module.__dict__.pop("__getattr__", None) is not None:
                spec.loader.exec_module(module)  # type: ignore[union-attr]
        try:
            return module.__dict__[attribute]
        except KeyError:
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}") from None

    module.__dict__["__getattr__"] = __getattr__
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(importlib.import_module(parent), child, module)


def defer_unused_packages(names: tuple[str, ...] = DEFERRED) -> None:
    for name in names:
        defer_package_init(name)


def initialised(module: types.ModuleType) -> bool:
    """Whether a deferred package's ``__init__`` has run (for tests)."""
    return "__getattr__" not in module.__dict__
