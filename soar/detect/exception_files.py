"""Reading exception files: one exception per YAML file, checked, each error on one line with file, line, field."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from soar.detect.exceptions import ANY_RULE, ExceptionsInForce, RuleException, apply_exceptions
from soar.detect.models import DetectRule
from soar.errors import InputError

SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class ExceptionFile:
    """An exception and the file it was read from."""

    path: str
    exception: RuleException


@dataclass
class ExceptionFiles:
    """The exceptions of a folder that are good, and one error per bad file (a bad file never stops the rest)."""

    files: list[ExceptionFile] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)

    @property
    def exceptions(self) -> list[RuleException]:
        """The good exceptions, in file order."""
        return [f.exception for f in self.files]


def exception_paths(path: Path) -> list[Path]:
    """The exception files at a path: the file itself, or every YAML file under a folder (sorted)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    return sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())


def load_exceptions(path: Path) -> ExceptionFiles:
    """Read and check every exception file at ``path`` (a missing folder holds none); ids must be unique."""
    result = ExceptionFiles()
    seen: dict[str, str] = {}
    for file in exception_paths(path):
        try:
            exception = read_exception(file)
        except InputError as exc:
            result.errors.append(exc)
            continue
        if exception.id in seen:
            result.errors.append(
                InputError(f"duplicate id, also in {seen[exception.id]}", file=str(file), line=1, field="id")
            )
            continue
        seen[exception.id] = str(file)
        result.files.append(ExceptionFile(path=str(file), exception=exception))
    return result


def read_exception(path: Path) -> RuleException:
    """Read one exception file.

    Raises:
        InputError: the file cannot be read, is not one YAML mapping, breaks the schema, or is not named
            after its id; the message names the file, the line and the field.
    """
    where = str(path)
    try:
        data = path.read_bytes()
        documents = [d for d in yaml.load_all(data, Loader=yaml.CSafeLoader) if d is not None]
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=where) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InputError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=where, line=line) from None
    except ValueError as exc:  # a YAML date that is no date (2026-02-30)
        raise InputError(f"not valid YAML: {exc}", file=where) from None
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise InputError("write one exception (a YAML mapping) per file", file=where, line=1)
    try:
        exception = RuleException.model_validate(documents[0])
    except ValidationError as exc:
        first = exc.errors()[0]
        line, name = locate(data, first["loc"])
        if first["type"] == "missing":  # not in the file, so not found by the walk: name it in full
            name = ".".join(str(p) for p in first["loc"] if isinstance(p, str))
        reason = str(first["msg"]).removeprefix("Value error, ")
        raise InputError(reason, file=where, line=line, field=name or None) from None
    if path.stem != exception.id:
        line, _ = locate(data, ("id",))
        raise InputError(
            f"the file must be named {exception.id}{path.suffix}", file=where, line=line, field="id"
        )
    return exception


def locate(data: bytes, loc: tuple[Any, ...]) -> tuple[int, str]:
    """The 1-based line and the dotted name of the deepest part of a pydantic error location in the YAML.

    ``match`` written as one mapping is validated as a list of one, so a leading index the YAML lacks is
    skipped; parts the YAML does not have (a pydantic union member's name) end the walk.
    """
    try:
        node: yaml.Node | None = yaml.compose(data, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return 1, ".".join(str(p) for p in loc)
    if node is None:
        return 1, ""
    names: list[str] = []
    for part in loc:
        child = _child(node, part)
        if child is None:
            if isinstance(node, yaml.MappingNode) and part == 0:
                continue
            break
        node = child
        names.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return node.start_mark.line + 1, "".join(names).lstrip(".")


def _child(node: yaml.Node, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return value  # type: ignore[no-any-return]  # yaml's nodes are untyped
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]  # type: ignore[no-any-return]  # yaml's nodes are untyped
    return None


def exceptions_in_force(
    rules: list[DetectRule], path: str | None, today: date
) -> tuple[list[DetectRule], ExceptionsInForce]:
    """Read the exception files at ``path`` and attach to each rule those in force today (None: no files).

    A bad file is reported in the result and skipped: its rules run without it (more alerts, never fewer).
    """
    if path is None:
        return rules, ExceptionsInForce()
    files = load_exceptions(Path(path))
    return apply_exceptions(rules, files.exceptions, [str(e) for e in files.errors], today)


def describe(file: ExceptionFile, today: date) -> dict[str, Any]:
    """One exception as a person or a script reads it: who, why, until when, and its status today."""
    exception = file.exception
    return {
        "id": exception.id,
        "rule": exception.rule,
        "owner": exception.owner,
        "reason": exception.reason,
        "created": exception.created.isoformat(),
        "expires": exception.expires.isoformat(),
        "days_left": (exception.expires - today).days,
        "status": exception.status(today),
        "version": exception.version,
        "file": file.path,
    }


def unknown_rules(files: ExceptionFiles, known: set[str]) -> list[InputError]:
    """An error for each exception naming a rule (id or name) that is not among ``known``."""
    errors = []
    for file in files.files:
        rule = file.exception.rule
        if rule != ANY_RULE and rule not in known:
            line, _ = locate(Path(file.path).read_bytes(), ("rule",))
            errors.append(
                InputError(f"no rule with id or name {rule!r}", file=file.path, line=line, field="rule")
            )
    return errors
