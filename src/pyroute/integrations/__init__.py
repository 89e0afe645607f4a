"""Integrations with existing helpdesk platforms (served by ``pyroute serve``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import msgspec

from .. import errors

T = TypeVar("T")


def settings_from_toml(path: str | Path, section: str, cls: type[T]) -> T:
    """An integration's settings: the ``[section]`` table of a TOML file (or the whole
    file, when it has no such table), checked as ``cls``. Errors name the file."""
    try:
        raw = msgspec.toml.decode(Path(path).read_bytes())
    except OSError as e:
        raise errors.ConfigError(f"cannot read {path}: {e.strerror}") from None
    except msgspec.DecodeError as e:
        raise errors.ConfigError(f"{path}: not valid TOML: {e}") from None
    try:
        return msgspec.convert(raw.get(section, raw), cls)
    except msgspec.ValidationError as e:
        raise errors.ConfigError(f"{path}: {e}") from None
