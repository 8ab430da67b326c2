"""The config's JSON Schema, as ``websvc schema`` prints it (from :mod:`websvc.schema`)."""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from websvc.schema import ConfigTable


class _Generator(GenerateJsonSchema):
    """pydantic's JSON Schema without generated titles."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a config (validation mode), the keys' docs as descriptions."""
    schema = ConfigTable.model_json_schema(schema_generator=_Generator)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def schema_text() -> str:
    """:func:`json_schema` as the text ``websvc schema`` prints."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
