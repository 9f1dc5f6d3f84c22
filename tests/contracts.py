"""The committed JSON Schemas, as a consumer validating a topic would use them."""

import json

import jsonschema

import schemas


def validator(topic: str) -> jsonschema.Draft202012Validator:
    """The validator of a topic's committed schema, checking formats (``date-time`` needs
    rfc3339-validator installed, or jsonschema passes any string)."""
    schema = json.loads((schemas.COMMITTED_DIR / f"{topic}.schema.json").read_text())
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
