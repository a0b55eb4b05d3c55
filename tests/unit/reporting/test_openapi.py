"""The committed OpenAPI document is the one the reporting service serves, and it documents every
answer: a response model per route, 404/422/503 with their bodies and headers, and CSV."""

from __future__ import annotations

import json
from pathlib import Path

from services.reporting.openapi import render

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
LISTS = {
    "/v1/provinces",
    "/v1/provinces/{code}/communes",
    "/v1/daily",
    "/v1/teams",
    "/v1/border-communes",
    "/v1/coverage",
    "/v1/possible-duplicates",
}


def test_the_committed_document_is_the_served_one() -> None:
    """docs/openapi.json equals what the app serves now (``make docs`` rewrites it)."""
    assert COMMITTED.read_text(encoding="utf-8") == render(), "docs/openapi.json is stale: run make docs"


def test_every_route_documents_its_answers() -> None:
    """Every GET has a response schema; the read routes document 422 and 503 projection_behind
    with Retry-After; code routes 404; lists text/csv beside JSON."""
    doc = json.loads(COMMITTED.read_text(encoding="utf-8"))
    schemas = doc["components"]["schemas"]
    for path, ops in doc["paths"].items():
        assert set(ops) == {"get"}, path
        responses = ops["get"]["responses"]
        ok = responses["200"]["content"]
        if path == "/metrics":
            assert set(ok) == {"text/plain"}
            continue
        ref = ok["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        assert schemas[ref]["properties"], path
        if not path.startswith("/v1/"):
            continue
        assert responses["200"]["headers"]["Vhub-Position"]["required"] is True
        assert responses["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/Invalid")
        behind = responses["503"]
        assert behind["headers"]["Retry-After"]["required"] is True
        assert behind["content"]["application/json"]["schema"]["$ref"].endswith("/ProjectionBehind")
        assert ("text/csv" in ok) == (path in LISTS), path
        if "{code}" in path or path in {"/v1/daily", "/v1/teams", "/v1/possible-duplicates"}:
            assert responses["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/NotFound")
    assert doc["components"]["schemas"]["Behind"]["properties"]["reason"]["const"] == "projection_behind"
    assert set(doc["paths"]) >= LISTS | {"/v1/provenance", "/v1/freshness", "/readyz", "/metrics"}
