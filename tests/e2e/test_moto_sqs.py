"""The emulator's indexed SQS queues (deploy/local/moto_sqs.py): SQS semantics kept, and the
cost of a receive independent of the queue's depth.

The semantics are checked over HTTP with boto3, as the dispatcher and the SQS mapping use the
queue; the cost is checked on moto's backend directly by counting the function calls one
receive-and-delete makes at two depths (a count, not a timing).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from moto.sqs.models import sqs_backends

from deploy.local import moto_sqs
from deploy.local.moto_sqs import IndexedQueue
from tests.e2e.conftest import count_calls

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default


@pytest.fixture(scope="module")
def sqs(emulator: str) -> Any:
    return boto3.client("sqs", endpoint_url=emulator, region_name=REGION)


def _queue(sqs: Any, **attributes: str) -> str:
    return str(
        sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:10]}", Attributes=attributes)["QueueUrl"]
    )


def _queue_with_dlq(sqs: Any, max_receives: int) -> tuple[str, str]:
    dlq_url = _queue(sqs)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}
    return _queue(sqs, VisibilityTimeout="30", RedrivePolicy=json.dumps(policy)), dlq_url


def _receive(sqs: Any, url: str, count: int = 10, wait_s: int = 0, **kw: Any) -> list[Any]:
    response = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=count,
        WaitTimeSeconds=wait_s,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
        **kw,
    )
    return list(response.get("Messages", []))


def _counts(sqs: Any, url: str) -> tuple[int, int, int]:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        int(attributes["ApproximateNumberOfMessagesDelayed"]),
    )


def _make_visible(sqs: Any, url: str, messages: list[Any]) -> None:
    for message in messages:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )


def test_standard_queues_are_indexed_fifo_queues_are_motos(emulator: str, sqs: Any) -> None:
    standard = _queue(sqs)
    fifo = sqs.create_queue(
        QueueName=f"f-{uuid.uuid4().hex[:10]}.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    backend = sqs_backends[ACCOUNT][REGION]

    assert moto_sqs.installed()
    assert type(backend.get_queue(standard.rsplit("/", 1)[-1])) is IndexedQueue
    assert type(backend.get_queue(fifo.rsplit("/", 1)[-1])) is moto_sqs.MotoQueue
    sqs.send_message(QueueUrl=fifo, MessageBody="first", MessageGroupId="g")
    sqs.send_message(QueueUrl=fifo, MessageBody="second", MessageGroupId="g")
    assert [m["Body"] for m in _receive(sqs, fifo)] == ["first", "second"]
    sqs.send_message(QueueUrl=fifo, MessageBody="third", MessageGroupId="g")
    assert _receive(sqs, fifo) == []  # its group is in flight: moto's FIFO rule, kept


def test_oldest_first_hidden_while_in_flight_counted_by_state(sqs: Any) -> None:
    url = _queue(sqs, VisibilityTimeout="30")
    for n in range(25):
        sqs.send_message(
            QueueUrl=url,
            MessageBody=f"m{n:02d}",
            MessageAttributes={"n": {"DataType": "Number", "StringValue": str(n)}},
        )
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)

    first = _receive(sqs, url)
    second = _receive(sqs, url, count=5)

    assert [m["Body"] for m in first] == [f"m{n:02d}" for n in range(10)]
    assert [m["Body"] for m in second] == [f"m{n:02d}" for n in range(10, 15)]
    assert first[3]["MessageAttributes"]["n"]["StringValue"] == "3"
    assert first[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    assert _counts(sqs, url) == (10, 15, 1)  # visible, in flight, delayed


def test_visibility_timeout_returns_a_message_with_its_receive_count(sqs: Any) -> None:
    url = _queue(sqs, VisibilityTimeout="1")
    sqs.send_message(QueueUrl=url, MessageBody="again")

    first = _receive(sqs, url)
    hidden = _receive(sqs, url)
    time.sleep(1.2)
    second = _receive(sqs, url)

    assert [m["Body"] for m in first] == ["again"] and hidden == []
    assert [m["Body"] for m in second] == ["again"]
    assert second[0]["MessageId"] == first[0]["MessageId"]
    assert second[0]["ReceiptHandle"] != first[0]["ReceiptHandle"]
    assert second[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_change_visibility_zero_returns_it_at_once_in_send_order(sqs: Any) -> None:
    url = _queue(sqs, VisibilityTimeout="30")
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    taken = _receive(sqs, url, count=2)

    _make_visible(sqs, url, taken[:1])

    assert [m["Body"] for m in _receive(sqs, url)] == ["a", "c"]
    assert _counts(sqs, url) == (0, 3, 0)


def test_redrive_to_the_dead_letter_queue_after_max_receive_count(sqs: Any) -> None:
    url, dlq_url = _queue_with_dlq(sqs, max_receives=2)
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    sqs.send_message(QueueUrl=url, MessageBody="fine")

    for _ in range(2):  # received twice, never deleted
        poison = [m for m in _receive(sqs, url) if m["Body"] == "poison"]
        _make_visible(sqs, url, poison)
    third = _receive(sqs, url)
    dead = _receive(sqs, dlq_url)

    assert third == []  # "fine" is in flight; "poison" moved on this receive
    assert [m["Body"] for m in dead] == ["poison"]
    assert dead[0]["Attributes"]["ApproximateReceiveCount"] == "3"
    assert _counts(sqs, url) == (0, 1, 0)
    sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=dead[0]["ReceiptHandle"])
    assert _counts(sqs, dlq_url) == (0, 0, 0)


def test_delete_by_current_or_older_handle_twice_harmless_unknown_refused(sqs: Any) -> None:
    url = _queue(sqs, VisibilityTimeout="30")
    sqs.send_message(QueueUrl=url, MessageBody="x")
    sqs.send_message(QueueUrl=url, MessageBody="y")
    x_old, y = _receive(sqs, url)
    _make_visible(sqs, url, [x_old])
    [x_new] = _receive(sqs, url)

    sqs.delete_message(QueueUrl=url, ReceiptHandle=x_old["ReceiptHandle"])  # an older handle
    sqs.delete_message(QueueUrl=url, ReceiptHandle=x_new["ReceiptHandle"])  # already deleted
    batch = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "y", "ReceiptHandle": y["ReceiptHandle"]},
            {"Id": "bogus", "ReceiptHandle": "not-a-handle"},
        ],
    )

    assert [s["Id"] for s in batch["Successful"]] == ["y"]
    assert [(f["Id"], f["Code"]) for f in batch["Failed"]] == [("bogus", "ReceiptHandleIsInvalid")]
    assert _counts(sqs, url) == (0, 0, 0)
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=y["ReceiptHandle"], VisibilityTimeout=0
        )


def test_long_poll_wakes_on_a_send(sqs: Any) -> None:
    url = _queue(sqs)
    timer = threading.Timer(0.3, lambda: sqs.send_message(QueueUrl=url, MessageBody="woke"))
    timer.start()
    try:
        received = _receive(sqs, url, wait_s=10)
    finally:
        timer.join()

    assert [m["Body"] for m in received] == ["woke"]


def test_long_poll_ends_empty_after_its_wait(sqs: Any) -> None:
    url = _queue(sqs)
    started = time.monotonic()

    assert _receive(sqs, url, wait_s=1) == []
    assert time.monotonic() - started >= 0.9


def test_purge_empties_every_state(sqs: Any) -> None:
    url = _queue(sqs, VisibilityTimeout="30")
    for n in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=str(n))
    _receive(sqs, url, count=2)

    sqs.purge_queue(QueueUrl=url)

    assert _counts(sqs, url) == (0, 0, 0)
    sqs.send_message(QueueUrl=url, MessageBody="after")
    assert [m["Body"] for m in _receive(sqs, url)] == ["after"]


def test_concurrent_receivers_never_share_a_message(sqs: Any) -> None:
    url = _queue(sqs, VisibilityTimeout="60")
    for start in range(0, 200, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(n), "MessageBody": str(n)} for n in range(start, start + 10)],
        )

    def drain() -> list[str]:
        client = boto3.client("sqs", endpoint_url=sqs.meta.endpoint_url, region_name=REGION)
        bodies: list[str] = []
        while batch := _receive(client, url):
            bodies += [m["Body"] for m in batch]
        return bodies

    with ThreadPoolExecutor(4) as pool:
        bodies = [b for got in pool.map(lambda _: drain(), range(4)) for b in got]

    assert sorted(bodies, key=int) == [str(n) for n in range(200)]


@pytest.fixture
def backend_queue(emulator: str) -> Iterator[tuple[Any, str]]:
    """A queue straight on moto's backend (no HTTP), deleted afterwards."""
    backend = sqs_backends[ACCOUNT][REGION]
    name = f"depth-{uuid.uuid4().hex[:10]}"
    backend.create_queue(name, VisibilityTimeout="30")
    yield backend, name
    backend.delete_queue(name)


def _calls_per_receive_and_delete(backend: Any, name: str) -> int:
    """Python and C function calls made by one 10-message receive and its deletes."""
    received: list[Any] = []

    def receive_and_delete() -> None:
        received.extend(backend.receive_message(name, 10, 0, 30, ["All"]))
        backend.delete_message_batch(
            name,
            [{"Id": str(n), "ReceiptHandle": m.receipt_handle} for n, m in enumerate(received)],
        )

    calls = count_calls(receive_and_delete)
    assert len(received) == 10
    return calls


def test_receive_cost_does_not_grow_with_depth(backend_queue: tuple[Any, str]) -> None:
    backend, name = backend_queue
    for _ in range(100):
        backend.send_message(name, "x" * 200)
    shallow = _calls_per_receive_and_delete(backend, name)
    for _ in range(3000):
        backend.send_message(name, "x" * 200)
    deep = _calls_per_receive_and_delete(backend, name)

    # moto's own list walks made about 20x more calls at the second depth
    assert deep <= shallow * 1.2 + 50, (shallow, deep)
