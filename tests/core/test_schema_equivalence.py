"""Our generated schemas accept and reject exactly what the official OCA schemas do.

For every schema file of every version, the validator trio-ocpp uses (formats off) and plain
jsonschema on the official file (same draft, the same decimal ``multipleOf``, no format checker)
must accept the generated valid payloads (minimal, full, and every field at a limit, so that a
constraint off by one shows) and reject every mutation of schema_payloads. The official files are
in ../shared/ocpp-schemas beside the repository, or else the ocpp package's copies of them
(tests/official_schemas.py).

Each test runs once per validation engine. With jsonschema-rs, its own verdict is held to the
same answers, not only the combined one: jsonschema has the last word on what it rejects, which
would otherwise hide a payload it wrongly rejects (slow, but right) or miss none it wrongly
accepts.
"""

from __future__ import annotations

import json

import pytest
from helpers.engines import verdict
from helpers.official_schemas import MISSING, OFFICIAL_ROOT, official_file
from helpers.schema_payloads import edge_payloads, full_payload, minimal_payload, mutations

from trio_ocpp._core.schema_dialect import validator_class_for
from trio_ocpp._core.schemas import MessageKind, _catalogue, load_schema
from trio_ocpp._core.validation import FormatPolicy, compile_validator
from trio_ocpp._core.versions import PACKAGES, VERSIONS, OCPPVersion

pytestmark = [
    pytest.mark.skipif(OFFICIAL_ROOT is None, reason=MISSING),
    pytest.mark.usefixtures("each_engine"),
]

CASES = [
    pytest.param(version, action, kind, path.name, id=f"{PACKAGES[version]}/{path.name}")
    for version in VERSIONS
    for (action, kind), path in sorted(_catalogue(version).items(), key=lambda item: item[1])
]


@pytest.mark.parametrize(("version", "action", "kind", "file_name"), CASES)
def test_same_verdicts_as_the_official_schema(
    version: OCPPVersion, action: str, kind: MessageKind, file_name: str
) -> None:
    official_text = official_file(PACKAGES[version], file_name).read_text(encoding="utf-8-sig")
    official = json.loads(official_text)
    reference = validator_class_for(official)(official)
    validator = compile_validator(version, action, kind, FormatPolicy.OFF)

    def ours(payload: object) -> bool:
        return verdict(validator, payload)

    schema = load_schema(version, action, kind)

    valid = [("minimal", minimal_payload(schema)), ("full", full_payload(schema))]
    for description, payload in [*valid, *edge_payloads(schema)]:
        assert ours(payload), description
        assert reference.is_valid(payload), description

    verdicts = [
        (description, ours(payload), reference.is_valid(payload))
        for description, payload in mutations(schema)
    ]
    assert verdicts, "a schema without a single mutation: the payload helper missed it"
    assert [(d, o, r) for d, o, r in verdicts if o != r] == []
    assert [d for d, o, _ in verdicts if o] == []
