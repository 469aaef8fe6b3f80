from schemas.jsonschema import SCHEMA_PATH, build_schema, render


def test_committed_schema_matches_the_python_definition():
    assert SCHEMA_PATH.read_bytes() == render(), \
        "schemas/activity.v1.schema.json is stale: run `make schema` and commit it"


def test_schema_lists_required_fields_of_the_contract():
    schema = build_schema()
    assert schema["required"] == ["schema", "event_id", "tenant", "host", "user", "app",
                                  "start_ms", "end_ms"]
    assert schema["properties"]["url"]["maxLength"] == 2048
    assert schema["additionalProperties"] is True
