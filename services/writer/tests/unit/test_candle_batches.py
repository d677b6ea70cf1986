"""The writer's decoding of candle batch bodies agrees with the schema.

`decode_candle_batch` must accept exactly what `CandleBatchV1` accepts and give
the batch the model gives; its fast path (no model per candle) must take the
producers' own JSON and leave everything else to the model.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from ticktide_common.messages import CandleBatchV1, CandleV1
from ticktide_writer import candle_batches
from ticktide_writer.candle_batches import DeliveredBatch, decode_candle_batch

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def message(count: int = 24, *, job: bool = True) -> CandleBatchV1:
    return CandleBatchV1(
        batch_id=uuid.uuid4(),
        job_id=uuid.uuid4() if job else None,
        symbol="ETHUSDT",
        interval="1h",
        source="binance-archive",
        candles=[
            CandleV1(
                t=T0 + timedelta(hours=i),
                o=f"{3000 + i}.12000000",
                h=f"{3010 + i}.5",
                l="2990",
                c=f"{3005 + i}.00000001",
                v="0.00100000",
            )
            for i in range(count)
        ],
    )


def reference(body: bytes) -> DeliveredBatch:
    return DeliveredBatch.from_message(CandleBatchV1.model_validate_json(body))


def takes_fast_path(body: bytes) -> bool:
    fields = candle_batches._BatchFields.model_validate_json(body)
    return candle_batches._canonical_batch(fields) is not None


def with_candles(body: bytes, edit: Any) -> bytes:
    document = json.loads(body)
    edit(document["candles"])
    return json.dumps(document).encode()


@pytest.mark.parametrize("count", [0, 1, 24, 5000])
def test_the_producers_json_takes_the_fast_path_and_equals_the_model(count: int) -> None:
    body = message(count).model_dump_json().encode()
    assert takes_fast_path(body)
    decoded = decode_candle_batch(body)
    assert decoded == reference(body)
    assert len(decoded) == count
    if count:
        assert decoded.times[0] == T0 and decoded.times[0].tzinfo is UTC
        assert decoded.time_text is not None and decoded.time_text[0] == "2024-03-01T00:00:00Z"


def test_a_batch_without_a_job_decodes_alike() -> None:
    body = message(3, job=False).model_dump_json().encode()
    assert decode_candle_batch(body) == reference(body) and reference(body).job_id is None


def _set(field: str, value: Any, index: int = 1) -> Any:
    def edit(candles: list[dict[str, Any]]) -> None:
        candles[index][field] = value

    return edit


VALID_BUT_NOT_CANONICAL = {
    "offset +00:00": _set("t", "2024-03-01T01:00:00+00:00"),
    "offset +02:00 (normalised to UTC)": _set("t", "2024-03-01T03:00:00+02:00"),
    "microseconds": _set("t", "2024-03-01T01:00:00.250000Z"),
    "exponent": _set("c", "1e-8"),
    "sign": _set("o", "+1.5"),
    "negative": _set("l", "-1"),
    "leading point": _set("h", ".5"),
    "trailing point": _set("v", "5."),
    "keys in another order": lambda candles: candles.__setitem__(
        0, dict(reversed(list(candles[0].items())))
    ),
}


@pytest.mark.parametrize("case", sorted(VALID_BUT_NOT_CANONICAL))
def test_other_valid_spellings_are_left_to_the_model(case: str) -> None:
    body = with_candles(message(4).model_dump_json().encode(), VALID_BUT_NOT_CANONICAL[case])
    assert decode_candle_batch(body) == reference(body)


def test_an_offset_time_is_normalised_to_utc_and_its_text_kept_whole_seconds() -> None:
    body = with_candles(
        message(2).model_dump_json().encode(), _set("t", "2024-03-01T03:00:00+02:00")
    )
    decoded = decode_candle_batch(body)
    assert not takes_fast_path(body)
    assert decoded.times[1] == T0 + timedelta(hours=1) and decoded.times[1].tzinfo is UTC
    assert decoded.time_text == ["2024-03-01T00:00:00Z", "2024-03-01T01:00:00Z"]


INVALID = {
    "a number for a price": _set("o", 3000.5),
    "a null volume": _set("v", None),
    "an empty price": _set("c", ""),
    "two points": _set("c", "1..2"),
    "a letter": _set("h", "12a"),
    "a price of 65 characters": _set("o", "1" * 65),
    "month 13": _set("t", "2024-13-01T00:00:00Z"),
    "30 February": _set("t", "2024-02-30T00:00:00Z"),
    "hour 24": _set("t", "2024-03-01T24:00:00Z"),
    "a leap second": _set("t", "2024-03-01T23:59:60Z"),
    "a naive time": _set("t", "2024-03-01T01:00:00"),
    "a missing key": lambda candles: candles[0].pop("v"),
    "an extra key": _set("x", "1"),
    "a candle that is a list": lambda candles: candles.__setitem__(0, ["a", "b"]),
    "5001 candles": lambda candles: candles.extend([candles[0]] * (5001 - len(candles))),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_what_the_model_refuses_the_decoder_refuses(case: str) -> None:
    body = with_candles(message(4).model_dump_json().encode(), INVALID[case])
    with pytest.raises(ValidationError):
        CandleBatchV1.model_validate_json(body)
    with pytest.raises(ValidationError):
        decode_candle_batch(body)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"batch_id": "x"}',
        message(1).model_dump_json().replace('"ETHUSDT"', '"eth-usdt"').encode(),
        message(1).model_dump_json().replace('"symbol"', '"extra":1,"symbol"').encode(),
    ],
)
def test_a_malformed_message_is_a_validation_error(body: bytes) -> None:
    with pytest.raises(ValidationError):
        decode_candle_batch(body)


def test_random_corruptions_are_judged_as_the_model_judges_them() -> None:
    """Characters of a valid body replaced at random (inside the candles, where
    the fast path works): whenever the model accepts, the decoder gives the same
    batch; whenever it refuses, the decoder refuses."""
    rng = random.Random(20261202)
    body = message(6).model_dump_json()
    start = body.index('"candles"')
    alphabet = '0123456789.:-+TZe E"{},[]\\u'
    outcomes = {"accepted": 0, "refused": 0}
    for _ in range(3000):
        chars = list(body)
        for _ in range(rng.randint(1, 3)):
            chars[rng.randrange(start, len(chars))] = rng.choice(alphabet)
        corrupted = "".join(chars).encode()
        try:
            expected = reference(corrupted)
        except ValidationError:
            outcomes["refused"] += 1
            with pytest.raises(ValidationError):
                decode_candle_batch(corrupted)
            continue
        outcomes["accepted"] += 1
        assert decode_candle_batch(corrupted) == expected
    assert outcomes["accepted"] > 100 and outcomes["refused"] > 100, outcomes
