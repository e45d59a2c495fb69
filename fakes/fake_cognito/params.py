"""Boundary validation of request fields, with AWS-style messages naming the field.

Every action reads its input through these helpers, so a missing field or a
wrong type becomes an ``InvalidParameterException`` (HTTP 400) that says which
field, never a ``KeyError`` turned into a 500.
"""

from __future__ import annotations

from typing import Any

from .errors import CognitoError


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _invalid(name: str, value: Any, constraint: str) -> CognitoError:
    shown = "null" if value is None else "'***'" if "assword" in name else repr(value)[:64]
    return CognitoError(
        "InvalidParameterException",
        f"1 validation error detected: Value {shown} at '{_lower_first(name)}' failed to satisfy constraint: {constraint}",
    )


def string(p: dict[str, Any], name: str, *, required: bool = True, default: str | None = None,
           max_len: int = 2048) -> str | None:
    value = p.get(name)
    if value is None:
        if required:
            raise _invalid(name, None, "Member must not be null")
        return default
    if not isinstance(value, str):
        raise _invalid(name, value, "Member must be a string")
    if required and not value:
        raise _invalid(name, value, "Member must have length greater than or equal to 1")
    if len(value) > max_len:
        raise _invalid(name, value, f"Member must have length less than or equal to {max_len}")
    return value


def req(p: dict[str, Any], name: str, max_len: int = 2048) -> str:
    value = string(p, name, required=True, max_len=max_len)
    assert value is not None
    return value


def boolean(p: dict[str, Any], name: str, default: bool = False) -> bool:
    value = p.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _invalid(name, value, "Member must be a boolean")
    return value


def integer(p: dict[str, Any], name: str, default: int | None = None, lo: int = 0, hi: int = 2**31) -> int | None:
    value = p.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(name, value, "Member must be an integer")
    if not lo <= value <= hi:
        raise _invalid(name, value, f"Member must have value between {lo} and {hi}")
    return value


def string_map(p: dict[str, Any], name: str) -> dict[str, str]:
    """A map of strings; a null value counts as absent (browsers send ``"DEVICE_KEY": null``)."""
    value = p.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and (v is None or isinstance(v, str))
                                              for k, v in value.items()):
        raise _invalid(name, value, "Member must be a map of strings to strings")
    return {k: v for k, v in value.items() if v is not None}


def string_list(p: dict[str, Any], name: str) -> list[str]:
    value = p.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(name, value, "Member must be a list of strings")
    return value


def obj(p: dict[str, Any], name: str) -> dict[str, Any]:
    value = p.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid(name, value, "Member must be an object")
    return value


def attributes(p: dict[str, Any], name: str) -> dict[str, str]:
    """Cognito's ``[{"Name": .., "Value": ..}]`` list as an ordered dict."""
    value = p.get(name)
    if value is None:
        return {}
    if not isinstance(value, list):
        raise _invalid(name, value, "Member must be a list of attribute types")
    out: dict[str, str] = {}
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _invalid(f"{name}.{i + 1}", item, "Member must be an attribute type")
        key = string(item, "Name")
        val = string(item, "Value", required=False, default="")
        if not key or len(key) > 32 + 7:
            raise _invalid(f"{name}.{i + 1}.name", key, "Member must have length less than or equal to 32")
        out[key] = val or ""
    return out


def one_of(value: str, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _invalid(name, value, f"Member must satisfy enum value set: [{', '.join(allowed)}]")
    return value
