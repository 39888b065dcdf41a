"""JSON answers: orjson, with int dict keys written as strings."""

from __future__ import annotations

import orjson

from tracegraph.web.errors import json_response


def test_plain_answers_and_int_keys_are_both_json():
    assert json_response({"a": [1, (2, 3)]}).content == b'{"a":[1,[2,3]]}'
    response = json_response({"counts": {2: "x"}}, status=201, Content_Disposition="inline")
    assert orjson.loads(response.content) == {"counts": {"2": "x"}}
    assert response.status_code == 201 and response["Content-Disposition"] == "inline"
    assert response["Content-Type"] == "application/json"
