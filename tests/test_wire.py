"""The wire protocol between the grader and a child (``grader/child/wire.py``), without
processes: framing, the size limit, and what a malformed message raises."""

from __future__ import annotations

import json
import os

import pytest

from grader.child import wire


@pytest.mark.parametrize(
    "message",
    [
        pytest.param({"op": "exit"}, id="bare"),
        pytest.param({"op": "block", "n": 200, "batch": 1, "noop": False}, id="block"),
        pytest.param({"op": "error", "message": 'ünïcode ✓ \n "quoted"'}, id="unicode"),
        pytest.param({"op": "loaded", "parameters": None, "dtypes": {"float32": 3}}, id="nested"),
    ],
)
def test_wire_round_trip(message: dict) -> None:
    data = wire.encode(message)
    (length,) = wire.LENGTH.unpack(data[: wire.LENGTH.size])
    assert length == len(data) - wire.LENGTH.size
    assert wire.decode(data[wire.LENGTH.size :]) == message


def test_wire_send_and_receive_through_a_pipe() -> None:
    r, w = os.pipe()
    try:
        wire.send(w, {"op": "done", "n": 3})
        wire.send(w, {"op": "exit"})
        assert wire.receive(r) == {"op": "done", "n": 3}
        assert wire.receive(r) == {"op": "exit"}
    finally:
        os.close(r)
        os.close(w)


def test_wire_message_at_the_limit_is_encoded_and_one_byte_more_is_refused() -> None:
    overhead = len(json.dumps({"op": "x", "pad": ""}, separators=(",", ":")))
    fits = {"op": "x", "pad": "a" * (wire.MAX_MESSAGE_BYTES - overhead)}
    assert len(wire.encode(fits)) == wire.LENGTH.size + wire.MAX_MESSAGE_BYTES
    with pytest.raises(wire.WireError, match="exceeds"):
        wire.encode({**fits, "pad": fits["pad"] + "a"})


def test_wire_oversized_length_header_is_refused_before_reading_the_body() -> None:
    r, w = os.pipe()
    try:
        os.write(w, wire.LENGTH.pack(wire.MAX_MESSAGE_BYTES + 1))
        with pytest.raises(wire.WireError, match="exceeds"):
            wire.receive(r)
    finally:
        os.close(r)
        os.close(w)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="not-json"),
        pytest.param(b"", id="empty"),
        pytest.param(b'{"op": "exit"', id="truncated"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
    ],
)
def test_wire_malformed_json_is_refused(body: bytes) -> None:
    with pytest.raises(wire.WireError, match="malformed"):
        wire.decode(body)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"n": 1}', id="no-op"),
        pytest.param(b'{"op": 1}', id="op-not-text"),
        pytest.param(b'["op", "exit"]', id="array"),
        pytest.param(b'"op"', id="string"),
        pytest.param(b"null", id="null"),
    ],
)
def test_wire_message_without_an_op_is_refused(body: bytes) -> None:
    with pytest.raises(wire.WireError, match="'op'"):
        wire.decode(body)


def test_wire_short_read_is_refused() -> None:
    r, w = os.pipe()
    try:
        os.write(w, wire.LENGTH.pack(10) + b'{"op"')
        os.close(w)
        w = -1
        with pytest.raises(wire.WireError, match="pipe closed after 5 of 10 bytes"):
            wire.receive(r)
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def test_a_load_message_names_its_protocol_only_when_it_is_not_classification() -> None:
    plain = wire.load_message("model.py", "build_model", 8, None)
    assert plain == wire.load_message("model.py", "build_model", 8, None, wire.CLASSIFICATION)
    assert "protocol" not in plain
    generation = wire.load_message("model.py", "build_model", 8, None, wire.GENERATION)
    assert generation == {**plain, "protocol": "generation"}
    with pytest.raises(ValueError, match="unknown model protocol 'chat'"):
        wire.load_message("model.py", "build_model", 8, None, "chat")


def test_a_reset_message_holds_the_batch() -> None:
    assert wire.reset_message(3) == {"op": "reset", "batch": 3}
