"""Event contracts (pydantic v2) for every topic the engine reads or writes.

``TOPIC_MODELS`` maps each default topic name to its model; ``stream schemas export DIR``
writes one JSON Schema per topic from it, and the committed copies live in ``schemas/json``.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from schemas.inputs import Interaction, Purchase, Survey
from schemas.outputs import ChurnRisk, DeadLetter, SegmentChange
from schemas.profile import CustomerProfile

TOPIC_MODELS: dict[str, type[BaseModel]] = {
    "customer.purchases": Purchase,
    "customer.interactions": Interaction,
    "customer.surveys": Survey,
    "customer.segment-changes": SegmentChange,
    "customer.churn-risk": ChurnRisk,
    "customer.dead-letter": DeadLetter,
    "customer.profiles": CustomerProfile,
}

COMMITTED_DIR = Path(__file__).parent / "json"


def json_schemas() -> dict[str, str]:
    """File name -> JSON Schema text, one per topic, as committed."""
    out = {}
    for topic, model in TOPIC_MODELS.items():
        schema = model.model_json_schema(by_alias=True)
        schema["$id"] = f"{topic}.schema.json"
        schema["x-topic"] = topic
        out[f"{topic}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def export(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in json_schemas().items():
        path = directory / name
        path.write_text(text)
        written.append(path)
    return written
