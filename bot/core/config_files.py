"""Operator settings files in ``config/``: optional, and checked like claim files.

A missing file means the model's defaults; a broken one raises
:class:`~bot.core.problems.StoreError` with file, line and field, so a typo in
``config/matching.yaml`` reads like one in a claim file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from bot.core.problems import Problem, StoreError, validation_problems
from bot.core.yamlfile import YamlSyntaxError, read_yaml

Model = TypeVar("Model", bound=BaseModel)


def load_config_file(path: Path, model: type[Model]) -> Model:
    """``model`` validated from the YAML at ``path``, or its defaults when there is no file."""
    if not path.exists():
        return model()
    try:
        doc = read_yaml(path)
    except YamlSyntaxError as exc:
        raise StoreError([Problem(str(path), exc.line, "(file)", exc.message)]) from exc
    try:
        return model.model_validate(doc.data or {})
    except ValidationError as exc:
        raise StoreError(validation_problems(doc, exc)) from exc
