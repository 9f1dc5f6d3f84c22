"""Dead-letter reasons in plain words, from pydantic's validation errors.

A reason names the field and the value it had, written as JSON writes it (``"12.5"``,
``true``, ``null``, ``NaN``), never as Python shows it, and says what is wrong in words
rather than with the validator's regular expression: ``amount "12.5" is not a number``.
Each reason comes with a summary that leaves the values out (``amount is not a number``),
which ``stream replay`` and ``stream backtest`` count rejected lines by, so a thousand
negative amounts are one line of their report, not a thousand.

A field validator of the contracts raises ``ValueError`` with a predicate (``is not 1``) that
follows the field and its value here; a model validator, a whole sentence.

>>> from pydantic import BaseModel, ConfigDict, Field, ValidationError
>>> class Order(BaseModel):
...     model_config = ConfigDict(strict=True)
...     amount: float = Field(ge=0)
>>> try:
...     Order.model_validate_json('{"amount": "12.5"}')
... except ValidationError as exc:
...     print(plain_reasons(exc, {}))
('amount "12.5" is not a number', 'amount is not a number')
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

MAX_SHOWN = 40
"""Characters of a string value shown in a reason; a longer one is cut, with its length."""
MAX_ERRORS = 5
"""Problems named in one reason; the rest are counted."""

EXAMPLE_TIME = "2026-03-01T10:00:00Z"

_PREDICATES = {
    "float_type": "is not a number",
    "int_type": "is not a whole number",
    "bool_type": "is not true or false",
    "string_type": "is not a string",
    "finite_number": "is not a finite number",
    "timezone_aware": "has no timezone: add Z or an offset such as +01:00",
    "datetime_type": f"is not an RFC 3339 date-time string such as {EXAMPLE_TIME}",
    "datetime_parsing": f"is not an RFC 3339 date-time such as {EXAMPLE_TIME}",
    "datetime_from_date_parsing": f"is not an RFC 3339 date-time such as {EXAMPLE_TIME}",
}
"""Error types whose words do not depend on the field's constraints."""


def shown(value: Any) -> str:
    """A value as a reason shows it: as JSON writes it, a long string cut short."""
    if isinstance(value, str):
        if len(value) <= MAX_SHOWN:
            return json.dumps(value, ensure_ascii=False)
        cut = json.dumps(value[:MAX_SHOWN] + "...", ensure_ascii=False)
        return f"{cut} ({len(value):,} characters)"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return json.dumps(value)  # numbers, true/false, null, NaN and Infinity


def _number(bound: Any) -> str:
    if isinstance(bound, float) and bound.is_integer():
        bound = int(bound)
    return f"{bound:,}" if isinstance(bound, int) else str(bound)


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    return "null"


def _predicate(error: ErrorDetails, patterns: Mapping[str, str]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in _PREDICATES:
        return _PREDICATES[kind]
    if kind == "greater_than_equal":
        return f"is below {_number(ctx['ge'])}"
    if kind == "greater_than":
        return f"is not above {_number(ctx['gt'])}"
    if kind == "less_than_equal":
        return f"is above {_number(ctx['le'])}"
    if kind == "less_than":
        return f"is not below {_number(ctx['lt'])}"
    if kind == "string_too_short":
        return "is empty" if ctx["min_length"] == 1 else f"is under {ctx['min_length']} characters"
    if kind == "string_too_long":
        return f"is over {ctx['max_length']:,} characters"
    if kind == "string_pattern_mismatch":
        pattern = ctx["pattern"]
        return patterns.get(pattern, f"does not match the pattern {pattern}")
    if kind == "literal_error":
        # pydantic quotes the expected strings as Python does: 'purchase'.
        return "is not " + re.sub(r"'([^']*)'", r'"\1"', str(ctx["expected"]))
    if kind == "value_error":
        return str(ctx["error"])
    return error["msg"][0].lower() + error["msg"][1:]


def _problem(error: ErrorDetails, patterns: Mapping[str, str]) -> tuple[str, str]:
    """One error as (with its value, without it)."""
    field = ".".join(str(part) for part in error["loc"])
    value = error["input"]
    if not field:  # the value as a whole
        if error["type"] in ("model_type", "model_attributes_type", "dict_type"):
            text = f"the value is {_json_type(value)}, not a JSON object"
        else:
            text = _predicate(error, patterns)
        return text, text
    if error["type"] == "missing":
        return f"{field} is missing", f"{field} is missing"
    predicate = _predicate(error, patterns)
    return f"{field} {shown(value)} {predicate}", f"{field} {predicate}"


def plain_reasons(exc: ValidationError, patterns: Mapping[str, str]) -> tuple[str, str]:
    """The reason for ``exc`` and its summary. ``patterns`` says in words what each regular
    expression of the model asks for."""
    errors = exc.errors(include_url=False)
    problems = [_problem(error, patterns) for error in errors[:MAX_ERRORS]]
    more = f"; and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
    return (
        "; ".join(text for text, _ in problems) + more,
        "; ".join(summary for _, summary in problems) + more,
    )
