"""One contract suite for each port, run against the AWS adapter (moto) and the in-memory fake.

The duplicate-delivery rule lives twice: as Python (:func:`handlers.item.refusal`, which the
decision and the in-memory store use) and as the DynamoDB condition expression
(``DynamoMetadataStore.record``). ``test_outcome_write_follows_the_refusal_rule`` runs the
same writes on both stores and checks each answer against the Python rule.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from handlers.dynamo_store import DynamoMetadataStore
from handlers.errors import ItemExists, ObjectMissing, PreconditionFailed
from handlers.item import normalise_sequencer, refusal
from handlers.memory_store import MemoryMetadataStore, MemoryObjectStore
from handlers.ports import MetadataStore, ObjectStore
from handlers.s3_store import S3ObjectStore
from imgproc import ImageRejected
from tests.handlers.conftest import Aws

ID = "e" * 32
T1, T2, T3 = "2024-05-01T00:00:00.000Z", "2024-05-02T00:00:00.000Z", "2024-05-03T00:00:00.000Z"


@pytest.fixture(params=["dynamo", "memory"])
def metadata(request: pytest.FixtureRequest) -> Iterator[MetadataStore]:
    if request.param == "memory":
        yield MemoryMetadataStore()
        return
    aws: Aws = request.getfixturevalue("aws")
    yield DynamoMetadataStore(aws.dynamodb, aws.table)


@pytest.fixture(params=["s3", "memory"])
def objects(request: pytest.FixtureRequest) -> Iterator[tuple[ObjectStore, str, str]]:
    """``(store, bucket, versioned_bucket)``."""
    if request.param == "memory":
        store = MemoryObjectStore("plain")
        store.create_bucket("versioned", versioned=True)
        yield store, "plain", "versioned"
        return
    aws: Aws = request.getfixturevalue("aws")
    aws.s3.create_bucket(Bucket="versioned")
    aws.s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    yield S3ObjectStore(aws.s3), aws.uploads_bucket, "versioned"


# ---------------------------------------------------------------- MetadataStore


def test_get_unknown_is_none(metadata: MetadataStore) -> None:
    assert metadata.get(ID) is None


def test_create_pending_once(metadata: MetadataStore) -> None:
    item = {"image_id": ID, "status": "pending", "uploaded_at": T1, "size": 5, "gone": None}
    metadata.create_pending(item)

    with pytest.raises(ItemExists):
        metadata.create_pending({**item, "status": "processed"})
    assert metadata.get(ID) == {
        "image_id": ID,
        "status": "pending",
        "uploaded_at": T1,
        "size": 5,
        "listing": "images",
    }


def test_record_creates_the_item_with_its_revision(metadata: MetadataStore) -> None:
    assert metadata.record(ID, "v1", {"status": "processed", "width": 500, "none": None})

    assert metadata.get(ID) == {
        "image_id": ID,
        "status": "processed",
        "width": 500,
        "source_revision": "v1",
        "listing": "images",
    }


def test_record_sets_removes_and_keeps(metadata: MetadataStore) -> None:
    metadata.create_pending(
        {
            "image_id": ID,
            "status": "pending",
            "filename": "mine.jpg",
            "expires_at": 1_700_000_000,
            "stale": "x",
            "old": "y",
        }
    )

    written = metadata.record(
        ID,
        "v1",
        {"status": "processed", "old": None, "width": 10},
        remove=("stale", "width"),  # "width" is set by this write, so it stays
        keep_if_present={"filename": "theirs.jpg", "uploaded_at": T1},
    )

    assert written
    assert metadata.get(ID) == {
        "image_id": ID,
        "status": "processed",
        "filename": "mine.jpg",  # kept: present already
        "uploaded_at": T1,  # set: absent before
        "width": 10,
        "source_revision": "v1",
        "listing": "images",
    }  # expires_at always removed, "stale" removed, "old" removed by its None


# Existing item (status, revision, event time) x outcome (revision, event time).
REFUSAL_CASES = [
    (None, "v1", T2),
    ({"status": "pending"}, "v1", T2),
    ({"status": "pending", "source_revision": "v1"}, "v1", T2),
    ({"status": "failed", "source_revision": "v1", "source_event_time": T2}, "v1", T2),
    ({"status": "processed", "source_revision": "v1", "source_event_time": T2}, "v1", T2),
    ({"status": "rejected", "source_revision": "v1", "source_event_time": T2}, "v1", T2),
    ({"status": "processed", "source_revision": "v1"}, "v1", None),
    ({"status": "processed", "source_revision": "v2", "source_event_time": T3}, "v1", T2),
    ({"status": "processed", "source_revision": "v2", "source_event_time": T2}, "v1", T2),
    ({"status": "processed", "source_revision": "v0", "source_event_time": T1}, "v1", T2),
    ({"status": "processed", "source_revision": "v2", "source_event_time": T3}, "v1", None),
    ({"status": "processed", "source_revision": "v0"}, "v1", T2),
    ({"status": "failed", "source_revision": "v2", "source_event_time": T3}, "v1", T2),
]


@pytest.mark.parametrize(("existing", "revision", "event_time"), REFUSAL_CASES)
def test_outcome_write_follows_the_refusal_rule(
    metadata: MetadataStore,
    existing: dict[str, Any] | None,
    revision: str,
    event_time: str | None,
) -> None:
    if existing is not None:
        before = {"image_id": ID, **existing}
        stored_revision = before.pop("source_revision", None)
        if stored_revision is None:
            metadata.create_pending(before)
        else:
            assert metadata.record(ID, stored_revision, before)
    expected = refusal(metadata.get(ID), revision, event_time)
    fields = {"status": "processed", "marker": "new"}
    if event_time is not None:
        fields["source_event_time"] = event_time

    written = metadata.record(ID, revision, fields)

    assert written is (expected is None)
    after = metadata.get(ID)
    assert after is not None
    assert (after.get("marker") == "new") is written
    before_revision = (existing or {}).get("source_revision")
    assert after["source_revision"] == (revision if written else before_revision)


def test_the_rule_covers_every_outcome() -> None:
    # The cases above exercise each answer of the rule at least once.
    answers = set()
    for existing, revision, event_time in REFUSAL_CASES:
        answers.add(refusal(existing and {"image_id": ID, **existing}, revision, event_time))
    assert answers == {None, "duplicate", "superseded"}


S1, S2, S3 = (normalise_sequencer(s) for s in ("0A", "0B9", "1C0"))  # padded: "0B9" < "1C0"
P1, P2 = "engine-a", "engine-b"


def held(status: str, revision: str, **facts: str) -> dict[str, Any]:
    """An existing item: ``status``, ``revision``, and facts by short name."""
    names = {"seq": "source_sequencer", "time": "source_event_time", "pv": "pipeline_version"}
    return {
        "status": status,
        "source_revision": revision,
        **{names[k]: v for k, v in facts.items()},
    }


# Existing item x outcome (revision, event time, sequencer, pipeline version).
ORDER_CASES = [
    (held("processed", "v2", seq=S3), "v1", T3, S2, None),  # 0 by sequencer: superseded
    (held("processed", "v0", seq=S1), "v1", T1, S2, None),  # 1 later sequencer: written
    (held("processed", "v0", time=T3), "v1", T2, S2, None),  # 2 no stored sequencer: by time
    (held("processed", "v0", time=T1), "v1", None, S2, None),
    (held("processed", "v2", seq=S3), "v1", None, None, None),  # 4 nothing to compare
    (held("processed", "v2", seq=S2, time=T3), "v1", T2, S2, None),  # 5 equal: by time
    (held("processed", "v2", seq=S2, time=T1), "v1", T2, S2, None),  # 6
    (held("deleted", "deleted", seq=S2), "v1", T1, S1, None),  # 7 late event of the deleted
    (held("deleted", "deleted", seq=S2), "v1", T1, S3, None),  # 8 a new upload
    (held("deleted", "deleted", time=T2), "v1", T1, None, None),
    (held("deleted", "deleted"), "deleted", T3, S3, None),  # a duplicate removal
    (held("processed", "v1", pv=P1), "v1", None, None, P2),  # 11 another version: redo
    (held("processed", "v1", pv=P2), "v1", None, None, P2),  # 12 this version: once
    (held("rejected", "v1"), "v1", None, None, P2),
    (held("deleted", "v1", pv=P1), "v1", None, None, P2),
]


@pytest.mark.parametrize(
    ("existing", "revision", "event_time", "sequencer", "version"), ORDER_CASES
)
def test_outcome_write_orders_by_sequencer_and_redoes_other_pipeline_versions(
    metadata: MetadataStore,
    existing: dict[str, Any],
    revision: str,
    event_time: str | None,
    sequencer: str | None,
    version: str | None,
) -> None:
    before = {"image_id": ID, **existing}
    assert metadata.record(ID, before.pop("source_revision"), before)
    expected = refusal(
        metadata.get(ID), revision, event_time, sequencer=sequencer, pipeline_version=version
    )
    fields = {
        "status": "processed",
        "marker": "new",
        "source_event_time": event_time,
        "source_sequencer": sequencer,
        "pipeline_version": version,
    }

    written = metadata.record(ID, revision, {k: v for k, v in fields.items() if v is not None})

    assert written is (expected is None)
    after = metadata.get(ID)
    assert after is not None and (after.get("marker") == "new") is written


def test_the_ordering_cases_cover_every_outcome() -> None:
    answers = [
        refusal({"image_id": ID, **e}, r, t, sequencer=s, pipeline_version=v)
        for e, r, t, s, v in ORDER_CASES
    ]
    assert set(answers) == {None, "duplicate", "superseded"}
    assert answers[0] == "superseded" and answers[1] is None  # by sequencer
    assert answers[5] == "superseded" and answers[6] is None  # equal sequencers: by time
    assert answers[7] == "superseded" and answers[8] is None  # a deleted item
    assert answers[11] is None and answers[12] == "duplicate"  # by pipeline version


def test_sequencers_order_as_numbers_once_padded() -> None:
    assert normalise_sequencer("0C0F6F405D6ED209E1") == "0" * 14 + "0C0F6F405D6ED209E1"
    assert normalise_sequencer("ff") < normalise_sequencer("100")  # type: ignore[operator]
    assert normalise_sequencer("not hex") is None and normalise_sequencer(None) is None


def test_list_recent_pages_newest_first(metadata: MetadataStore) -> None:
    times = [f"2024-05-0{day}T00:00:00.000Z" for day in (3, 1, 5, 2, 4)]
    for n, uploaded_at in enumerate(times):
        metadata.create_pending({"image_id": f"{n:032x}", "uploaded_at": uploaded_at})
    metadata.record("f" * 32, "v1", {"status": "processed"})  # no uploaded_at: not listed

    seen: list[str] = []
    start_key = None
    for _ in range(5):
        items, start_key = metadata.list_recent(limit=2, start_key=start_key)
        assert len(items) <= 2
        seen.extend(i["uploaded_at"] for i in items)
        if start_key is None:
            break
        assert set(start_key) == {"image_id", "listing", "uploaded_at"}

    assert seen == sorted(times, reverse=True)
    assert start_key is None


# ---------------------------------------------------------------- ObjectStore


def test_put_then_head_and_get(objects: tuple[ObjectStore, str, str]) -> None:
    store, bucket, _ = objects
    data = b"\xff\xd8 not really a jpeg"
    store.put(
        bucket,
        "dir/a b.jpg",
        data,
        content_type="image/jpeg",
        metadata={"Image-Id": ID, "source-key": "x%20y"},
        cache_control="max-age=60",
    )

    head = store.head(bucket, "dir/a b.jpg")

    assert (head.size_bytes, head.etag) == (len(data), hashlib.md5(data).hexdigest())
    assert (head.version_id, head.content_type) == (None, "image/jpeg")
    assert dict(head.metadata) == {"image-id": ID, "source-key": "x%20y"}  # lower-case keys
    assert store.get(bucket, "dir/a b.jpg", max_bytes=len(data)) == data
    assert store.get(bucket, "dir/a b.jpg", if_match=head.etag, max_bytes=len(data)) == data


def test_missing_objects(objects: tuple[ObjectStore, str, str]) -> None:
    store, bucket, _ = objects

    with pytest.raises(ObjectMissing):
        store.head(bucket, "nothing.jpg")
    with pytest.raises(ObjectMissing):
        store.get(bucket, "nothing.jpg", max_bytes=10)


def test_get_refuses_changed_and_oversize_objects(objects: tuple[ObjectStore, str, str]) -> None:
    store, bucket, _ = objects
    store.put(bucket, "k.jpg", b"0123456789", content_type="image/jpeg", metadata={})

    with pytest.raises(PreconditionFailed):
        store.get(bucket, "k.jpg", if_match="0" * 32, max_bytes=100)
    with pytest.raises(ImageRejected) as raised:
        store.get(bucket, "k.jpg", max_bytes=9)
    assert raised.value.reason == "too_large"


def test_open_tells_the_head_and_reads_the_body_once(
    objects: tuple[ObjectStore, str, str],
) -> None:
    store, bucket, versioned = objects
    data = b"\xff\xd8 still not a jpeg"
    store.put(bucket, "o.jpg", data, content_type="image/jpeg", metadata={"Image-Id": ID})
    store.put(versioned, "v.jpg", b"first", content_type="image/jpeg", metadata={})
    first = store.head(versioned, "v.jpg")
    store.put(versioned, "v.jpg", b"second!", content_type="image/jpeg", metadata={})

    with store.open(bucket, "o.jpg") as opened:
        head, body = opened.head, opened.read(len(data))
    with store.open(versioned, "v.jpg", version_id=first.version_id) as old:
        old_head, old_body = old.head, old.read(99)

    assert head == store.head(bucket, "o.jpg")
    assert dict(head.metadata) == {"image-id": ID}
    assert body == data
    assert (old_head.version_id, old_head.size_bytes, old_body) == (first.version_id, 5, b"first")
    with pytest.raises(ObjectMissing):
        store.open(bucket, "nothing.jpg")


def test_open_refuses_an_oversize_body_from_its_length(
    objects: tuple[ObjectStore, str, str],
) -> None:
    store, bucket, _ = objects
    store.put(bucket, "k.jpg", b"0123456789", content_type="image/jpeg", metadata={})
    opened = store.open(bucket, "k.jpg")
    read: list[int] = []
    real_read = opened.read_body

    def counted(max_bytes: int) -> bytes:
        read.append(max_bytes)
        return real_read(max_bytes)

    opened.read_body = counted

    with opened, pytest.raises(ImageRejected) as raised:
        opened.read(9)

    assert raised.value.reason == "too_large"
    assert read == []  # refused from ContentLength, before any byte of the body


def test_versions(objects: tuple[ObjectStore, str, str]) -> None:
    store, _, versioned = objects
    store.put(versioned, "k.jpg", b"first", content_type="image/jpeg", metadata={})
    first = store.head(versioned, "k.jpg")
    store.put(versioned, "k.jpg", b"second!", content_type="image/png", metadata={})
    second = store.head(versioned, "k.jpg")

    assert first.version_id and second.version_id and first.version_id != second.version_id
    assert second.size_bytes == len(b"second!")
    assert store.head(versioned, "k.jpg", version_id=first.version_id).size_bytes == 5
    assert store.get(versioned, "k.jpg", version_id=first.version_id, max_bytes=99) == b"first"
    with pytest.raises(ObjectMissing):
        store.head(versioned, "k.jpg", version_id="no-such-version")


def test_delete_and_list_keys(objects: tuple[ObjectStore, str, str]) -> None:
    store, bucket, _ = objects
    for key in ("p/a.jpg", "p/a.jpg/thumb.webp", "p/b.jpg", "q/a.jpg"):
        store.put(bucket, key, b"x", content_type="image/jpeg", metadata={})

    assert store.list_keys(bucket, "p/a.jpg") == ["p/a.jpg", "p/a.jpg/thumb.webp"]
    assert store.list_keys(bucket, "p/", max_keys=2) == ["p/a.jpg", "p/a.jpg/thumb.webp"]
    store.delete(bucket, "p/a.jpg")
    store.delete(bucket, "p/never-there.jpg")  # absent: fine

    assert store.list_keys(bucket, "p/") == ["p/a.jpg/thumb.webp", "p/b.jpg"]
    with pytest.raises(ObjectMissing):
        store.head(bucket, "p/a.jpg")


def test_delete_removes_the_object_and_ignores_absent_keys(
    objects: tuple[ObjectStore, str, str],
) -> None:
    store, bucket, _ = objects
    store.put(bucket, "a.jpg/w320.webp", b"RIFF....WEBP", content_type="image/webp", metadata={})
    store.put(bucket, "a.jpg", b"\xff\xd8", content_type="image/jpeg", metadata={})

    store.delete(bucket, "a.jpg/w320.webp")
    store.delete(bucket, "never-there.jpg")

    with pytest.raises(ObjectMissing):
        store.head(bucket, "a.jpg/w320.webp")
    assert store.head(bucket, "a.jpg").size_bytes == 2
