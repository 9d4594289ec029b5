"""S3 Batch Operations invoking the resize function (schema 2.0), built from AWS's example.

``tests/events/s3_batch_operations_v2.json`` is the documented invocation; the tests put
objects under keys with spaces and non-ASCII characters and give them URL-encoded, as
Batch Operations does, and check one result per task with the documented codes.
"""

from __future__ import annotations

import copy
import io
from typing import Any
from urllib.parse import quote

import botocore.exceptions
import pytest
from PIL import Image

from handlers import bootstrap, resize
from handlers.keys import direct_image_id
from handlers.ports import OpenedObject
from handlers.versions import pipeline_version
from tests.handlers.conftest import Aws, LambdaContext, jpeg_bytes, load_event

KEY = "holiday photos/café crème 1.jpg"


def invocation(*tasks: tuple[str, str, str | None]) -> dict[str, Any]:
    """The documented 2.0 invocation with ``(bucket, key, version)`` tasks, keys URL-encoded."""
    event = load_event("s3_batch_operations_v2")
    template = event["tasks"][0]
    event["tasks"] = []
    for n, (bucket, key, version) in enumerate(tasks):
        task = copy.deepcopy(template)
        task.update(
            taskId=f"task-{n}", s3Key=quote(key, safe="/"), s3VersionId=version, s3Bucket=bucket
        )
        event["tasks"].append(task)
    return event


def test_the_answer_has_the_documented_shape(aws: Aws, context: LambdaContext) -> None:
    aws.put(KEY, jpeg_bytes((1000, 800)))
    event = invocation((aws.uploads_bucket, KEY, None))

    answer = resize.handler(event, context)

    documented = load_event("s3_batch_operations_v2_response")
    assert set(answer) == set(documented)
    assert answer["invocationSchemaVersion"] == "2.0"
    assert answer["invocationId"] == event["invocationId"]
    assert answer["treatMissingKeysAs"] == "PermanentFailure"
    (result,) = answer["results"]
    assert set(result) == set(documented["results"][0])
    assert (result["taskId"], result["resultCode"]) == ("task-0", "Succeeded")
    assert result["resultString"] == f"processed {KEY}"
    rendition = aws.s3.get_object(Bucket=aws.processed_bucket, Key=KEY)["Body"].read()
    assert Image.open(io.BytesIO(rendition)).size == (500, 400)
    item = aws.item(direct_image_id(aws.uploads_bucket, KEY))
    settings = bootstrap.get_deps("resize").settings
    assert item is not None and item["pipeline_version"] == pipeline_version(settings)


def test_the_documented_example_itself_decodes_its_key_and_bucket() -> None:
    from handlers.events import batch_tasks

    (task,) = batch_tasks(load_event("s3_batch_operations_v2"))

    assert (task.task_id, task.obj.bucket, task.obj.key) == (
        "dGFza2lkZ29lc2hlcmUK",
        "amzn-s3-demo-bucket",
        "customerImage1.jpg",
    )
    assert task.obj.version_id is None and task.obj.reprocess


def test_per_task_results_rejected_missing_throttled_and_broken(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.put("ok.jpg", jpeg_bytes())
    aws.put("text.jpg", b"just some text, not an image")
    aws.put("throttled.jpg", jpeg_bytes())
    aws.put("broken.jpg", jpeg_bytes())
    deps = bootstrap.get_deps("resize")
    real_open = deps.objects.open

    def open_object(bucket: str, key: str, **kwargs: Any) -> OpenedObject:
        if key == "throttled.jpg":
            error = {"Error": {"Code": "SlowDown", "Message": "Reduce your request rate."}}
            meta = {"HTTPStatusCode": 503}
            raise _translated(
                botocore.exceptions.ClientError({**error, "ResponseMetadata": meta}, "GetObject")
            )
        if key == "broken.jpg":
            raise RuntimeError("a bug")
        return real_open(bucket, key, **kwargs)

    monkeypatch.setattr(deps.objects, "open", open_object)
    up = aws.uploads_bucket
    event = invocation(
        (up, "ok.jpg", None),
        (up, "text.jpg", None),
        (up, "gone.jpg", None),
        (up, "throttled.jpg", None),
        (up, "broken.jpg", None),
    )

    results = resize.handler(event, context)["results"]

    codes = [(r["taskId"], r["resultCode"]) for r in results]
    assert codes == [
        ("task-0", "Succeeded"),
        ("task-1", "Succeeded"),  # a rejected image is an outcome, not a failure
        ("task-2", "Succeeded"),  # gone since the manifest was written: nothing to do
        ("task-3", "TemporaryFailure"),  # Batch Operations retries it
        ("task-4", "PermanentFailure"),
    ]
    strings = [r["resultString"] for r in results]
    assert strings[0] == "processed ok.jpg"
    assert strings[1].startswith("rejected unsupported_format: ")
    assert strings[2] == "skipped source_missing"
    assert strings[3] == "retry later: s3.get_object SlowDown"
    assert strings[4] == "failed: RuntimeError"  # no internals in the report


def _translated(error: botocore.exceptions.ClientError) -> Exception:
    from handlers.errors import transient_from

    return transient_from("s3.get_object", error)


def test_a_second_job_does_no_work_twice(aws: Aws, context: LambdaContext) -> None:
    aws.put(KEY, jpeg_bytes())
    event = invocation((aws.uploads_bucket, KEY, None))
    resize.handler(event, context)
    first = aws.items()
    written = aws.s3.head_object(Bucket=aws.processed_bucket, Key=KEY)["LastModified"]

    again = resize.handler(event, context)["results"][0]

    assert (again["resultCode"], again["resultString"]) == ("Succeeded", "skipped duplicate")
    assert aws.items() == first
    assert aws.s3.head_object(Bucket=aws.processed_bucket, Key=KEY)["LastModified"] == written


def test_a_reprocess_keeps_what_the_item_says_about_the_upload(
    aws: Aws, context: LambdaContext
) -> None:
    event = aws.put("kept.jpg", jpeg_bytes())
    resize.handler(event, context)  # the upload event: uploaded_at is its time
    before = aws.item(direct_image_id(aws.uploads_bucket, "kept.jpg"))
    assert before is not None
    redo = invocation((aws.uploads_bucket, "kept.jpg", None))
    stale = {**before, "pipeline_version": "0ld-version"}
    aws.dynamodb.put_item(
        TableName=aws.table,
        Item={k: _attribute(v) for k, v in stale.items()},
    )

    result = resize.handler(redo, context)["results"][0]

    assert result["resultString"] == "processed kept.jpg"
    after = aws.item(direct_image_id(aws.uploads_bucket, "kept.jpg"))
    assert after is not None
    for name in ("uploaded_at", "filename", "source_event_time", "source_sequencer"):
        assert after[name] == before[name], name
    assert after["pipeline_version"] != "0ld-version"


def _attribute(value: Any) -> dict[str, Any]:
    from handlers.dynamo_store import to_dynamo

    return to_dynamo({"v": value})["v"]


def test_schema_1_0_names_the_bucket_by_arn(aws: Aws, context: LambdaContext) -> None:
    aws.put("one.jpg", jpeg_bytes())
    event = invocation((aws.uploads_bucket, "one.jpg", None))
    event["invocationSchemaVersion"] = "1.0"
    task = event["tasks"][0]
    task["s3BucketArn"] = f"arn:aws:s3:::{task.pop('s3Bucket')}"

    answer = resize.handler(event, context)

    assert answer["invocationSchemaVersion"] == "1.0"
    assert answer["results"][0]["resultString"] == "processed one.jpg"
