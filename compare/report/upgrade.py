"""Saved reports of an older schema version, brought to the current one before they are read.

The codec reads one schema, the current one (:data:`compare.report.model.SCHEMA_VERSION`). An
older file is first rewritten here, as JSON data, one version step at a time, so that each of
its fields keeps its meaning and ``compare.report diff`` can hold a run saved months ago against
today's. Versions 2 and 3 differ only by fields added with defaults; version 4 moved the
frameworks' versions and switches into maps keyed by the registry's names. A field the older
version required stays required: a file without it is refused, as that version's code refused it.
"""

from __future__ import annotations

from typing import Any

from compare.report.codec import SchemaError

# Fields of the header (Env) that held one framework's version before version 4 -> env.versions keys;
# numpy's and torch's were required strings, jax's a string or null (not installed).
ENV_VERSIONS_BEFORE_4 = {"numpy": True, "torch": True, "jax": False}  # field -> required
# Fields of the configuration that switched a framework's rows before version 4 -> config.switches keys
CONFIG_SWITCHES_BEFORE_4 = {"jax": "jax", "compile": "torch.compile"}


def _versions_before_4(env: dict[str, Any]) -> dict[str, Any]:
    """``env`` of version 2 or 3 with ``numpy``, ``torch``, ``jax`` moved into ``versions``."""
    if "versions" in env:
        raise SchemaError("env: unknown field 'versions'")  # a version-4 field in an older file
    for name, required in ENV_VERSIONS_BEFORE_4.items():
        if required and name not in env:
            raise SchemaError(f"env.{name}: missing")
    moved = {name: env[name] for name in ENV_VERSIONS_BEFORE_4 if name in env}
    rest = {k: v for k, v in env.items() if k not in moved}
    if moved.get("jax") is None:
        moved.pop("jax", None)  # null: jax was not installed
    return {**rest, "versions": moved}  # a value that is not a string is refused by the codec, by its path


def _to_4(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 or 3 -> 4: ``env.numpy``, ``env.torch``, ``env.jax`` and ``config.jax``, ``config.compile`` move."""
    env, config = data.get("env"), data.get("config")
    out = dict(data)
    if isinstance(env, dict):
        out["env"] = _versions_before_4(env)
    if isinstance(config, dict):
        if "switches" in config:
            raise SchemaError("config: unknown field 'switches'")
        fields = CONFIG_SWITCHES_BEFORE_4
        rest = {k: v for k, v in config.items() if k not in fields}
        out["config"] = {**rest, "switches": {fields[k]: v for k, v in config.items() if k in fields}}
    return out


def upgrade(data: Any, version: object) -> Any:
    """The JSON ``data`` of a report written with schema ``version``, as the current version writes it.

    Data that is not an object is returned as it is: the codec then says what is wrong with it.
    """
    if not isinstance(data, dict) or version not in (2, 3):
        return data
    return _to_4(data)
