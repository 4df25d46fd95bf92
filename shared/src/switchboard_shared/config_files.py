"""YAML configuration a service ships a default of (the routing policy, the rule set):
read the configured file, else the one shipped in the package, and parse it."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml


def text_or_shipped(path: Path | None, *, package: str, name: str) -> str:
    """The text of `path`, or of the file `name` shipped in `package` when no path is given."""
    if path is None:
        return resources.files(package).joinpath(name).read_text("utf-8")
    return path.read_text("utf-8")


def parse_yaml(text: str, error: type[Exception]) -> Any:
    """The YAML document in `text`; `error` (naming the parser's complaint) if it is not YAML."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"not valid YAML: {exc}") from exc
