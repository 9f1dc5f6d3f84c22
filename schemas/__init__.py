"""Event contracts (pydantic v2) for every topic the engine reads or writes.

``TOPIC_MODELS`` maps each default topic name to its model; ``stream schemas export DIR``
writes one JSON Schema per topic from it, named after the topic as configured and with the
interaction types and currencies the engine's settings accept; the committed copies (default
names and settings) live in ``schemas/json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import BaseModel

from schemas.inputs import InputRules, Interaction, Purchase, Survey
from schemas.outputs import ChurnRisk, DeadLetter, SegmentChange
from schemas.population import PopulationSnapshot
from schemas.profile import CustomerProfile

TOPIC_MODELS: dict[str, type[BaseModel]] = {
    "customer.purchases": Purchase,
    "customer.interactions": Interaction,
    "customer.surveys": Survey,
    "customer.segment-changes": SegmentChange,
    "customer.churn-risk": ChurnRisk,
    "customer.dead-letter": DeadLetter,
    "customer.profiles": CustomerProfile,
    "customer.population": PopulationSnapshot,
}

COMMITTED_DIR = Path(__file__).parent / "json"


def any_case(codes: Iterable[str]) -> str:
    """A JSON Schema pattern for any of ``codes`` in any case (ECMA 262 has no flag for it).

    >>> any_case(["usd", "EUR"])
    '^([Ee][Uu][Rr]|[Uu][Ss][Dd])$'
    """
    alternatives = sorted({code.upper() for code in codes})
    spelled = ("".join(f"[{c}{c.lower()}]" for c in code) for code in alternatives)
    return f"^({'|'.join(spelled)})$"


def json_schemas(
    topic_names: Mapping[str, str] | None = None, rules: InputRules | None = None
) -> dict[str, str]:
    """File name -> JSON Schema text, one per topic.

    ``topic_names`` maps a default topic name to the one in use; a topic it leaves out keeps
    its default name, as the committed copies do. ``rules`` are the interaction types and the
    currencies a deployment accepts (the committed copies: the defaults).
    """
    rules = rules or InputRules()
    out = {}
    for default, model in TOPIC_MODELS.items():
        topic = (topic_names or {}).get(default, default)
        schema = model.model_json_schema(by_alias=True)
        if model is Interaction:
            schema["properties"]["type"]["enum"] = sorted(rules.interaction_types)
        if model is Purchase and rules.currencies is not None:
            schema["properties"]["currency"]["pattern"] = any_case(rules.currencies)
        schema["$id"] = f"{topic}.schema.json"
        schema["x-topic"] = topic
        out[f"{topic}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def export(
    directory: Path,
    topic_names: Mapping[str, str] | None = None,
    rules: InputRules | None = None,
) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in json_schemas(topic_names, rules).items():
        path = directory / name
        path.write_text(text)
        written.append(path)
    return written
