"""The SQS mapping's batching window keeps each message once (deploy/local/lambda_service)."""

from __future__ import annotations

from deploy.local.lambda_service.sqs_mapping import merge_received


def _message(message_id: str, handle: str, receives: int) -> dict[str, object]:
    return {
        "MessageId": message_id,
        "ReceiptHandle": handle,
        "Body": message_id,
        "Attributes": {"ApproximateReceiveCount": str(receives)},
    }


def test_a_message_received_again_in_the_window_keeps_its_place_and_newest_handle() -> None:
    batch = [_message("a", "a1", 1), _message("b", "b1", 1)]
    more = [_message("c", "c1", 1), _message("a", "a2", 2)]

    merged = merge_received(batch, more)

    assert [(m["MessageId"], m["ReceiptHandle"]) for m in merged] == [
        ("a", "a2"),
        ("b", "b1"),
        ("c", "c1"),
    ]
    assert merged[0]["Attributes"] == {"ApproximateReceiveCount": "2"}
    assert [m["ReceiptHandle"] for m in batch] == ["a1", "b1"]  # the input is left alone
