"""Which stored objects a reprocess brings up to date, shared by the AWS and local tools.

Selections (:class:`Selection`):

- ``all``: every object in the uploads bucket (a listing: the bucket is the truth, so
  objects whose events were lost get their item too);
- ``prefix``: the objects under a key prefix (a listing);
- ``older``: items whose ``pipeline_version`` is not the given one (a table scan: images
  made by another engine or other rendition settings);
- ``rejected``: rejected items with a given ``error_reason`` (a table scan: after raising
  a limit, say ``too_large``).

Deleted items and folder markers are never selected. The table selections can be
narrowed by a key prefix too. Targets are yielded lazily (a bucket of millions is never
held in memory). The request for each target is the S3 Batch Operations shape: a CSV
manifest row (:func:`manifest_row`) on AWS, or the same invocation JSON
(:func:`invocation_body`) as an SQS message locally.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from boto3.dynamodb.types import TypeDeserializer

Mode = Literal["all", "prefix", "older", "rejected"]
SCAN_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class Selection:
    """What to reprocess.

    Attributes:
        mode: ``all``, ``prefix``, ``older`` or ``rejected``.
        prefix: key prefix (``prefix`` mode; a filter in the table modes).
        version: ``older``: the current pipeline version (items of any other are picked).
        reason: ``rejected``: the ``error_reason`` to pick.
    """

    mode: Mode
    prefix: str = ""
    version: str | None = None
    reason: str | None = None

    def describe(self) -> str:
        """One line for a person, and the job's description."""
        under = f" under {self.prefix!r}" if self.prefix else ""
        if self.mode == "older":
            return f"items not made by pipeline version {self.version}{under}"
        if self.mode == "rejected":
            return f"items rejected as {self.reason}{under}"
        return f"every object{under}"


@dataclass(frozen=True, slots=True)
class Target:
    """One object to reprocess: bucket and exact key."""

    bucket: str
    key: str


def select_targets(
    selection: Selection, *, s3: Any, dynamodb: Any, uploads_bucket: str, table: str
) -> Iterator[Target]:
    """The targets of ``selection``, lazily (listing the bucket or scanning the table)."""
    if selection.mode in ("all", "prefix"):
        yield from _listed(s3, uploads_bucket, selection.prefix)
        return
    yield from _scanned(dynamodb, table, selection)


def _listed(s3: Any, bucket: str, prefix: str) -> Iterator[Target]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith("/") and obj.get("Size", 0) == 0:
                continue  # a console "folder"
            yield Target(bucket, obj["Key"])


def _scanned(dynamodb: Any, table: str, selection: Selection) -> Iterator[Target]:
    deserialize = TypeDeserializer().deserialize
    fields = "source_bucket, source_key, #s, pipeline_version, error_reason"
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=table,
        ProjectionExpression=fields,
        ExpressionAttributeNames={"#s": "status"},
        PaginationConfig={"PageSize": SCAN_PAGE_SIZE},
    )
    for page in pages:
        for raw in page.get("Items", []):
            item = {k: deserialize(v) for k, v in raw.items()}
            if is_selected(item, selection):
                yield Target(str(item["source_bucket"]), str(item["source_key"]))


def is_selected(item: dict[str, Any], selection: Selection) -> bool:
    """Whether a table item is picked by a table selection (``older``, ``rejected``)."""
    key = item.get("source_key")
    if not isinstance(key, str) or not item.get("source_bucket"):
        return False
    if not key.startswith(selection.prefix):
        return False
    status = item.get("status")
    if selection.mode == "rejected":
        return status == "rejected" and item.get("error_reason") == selection.reason
    if selection.mode == "older":
        final = status in ("processed", "rejected")
        return final and item.get("pipeline_version") != selection.version
    return False


def manifest_row(target: Target) -> str:
    """One S3 Batch Operations CSV manifest line: ``bucket,url-encoded key`` (no header row;
    keys URL-encoded as the manifest format requires, so commas and newlines are safe)."""
    return f"{target.bucket},{quote(target.key, safe='/')}\n"


def invocation_body(target: Target, *, invocation_id: str, task_id: str) -> str:
    """The S3 Batch Operations 2.0 invocation for one target, as JSON (an SQS body)."""
    return json.dumps(
        {
            "invocationSchemaVersion": "2.0",
            "invocationId": invocation_id,
            "job": {"id": invocation_id, "userArguments": {"purpose": "reprocess"}},
            "tasks": [
                {
                    "taskId": task_id,
                    "s3Key": quote(target.key, safe="/"),
                    "s3VersionId": None,
                    "s3Bucket": target.bucket,
                }
            ],
        }
    )


def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    """The selection flags both reprocess commands take (one of ``--all``, ``--older``,
    ``--older-than``, ``--rejected``, or ``--prefix`` alone; ``--prefix`` narrows the
    table selections)."""
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--all", action="store_true", help="every object in the uploads bucket")
    chosen.add_argument("--older", action="store_true", help="items of another pipeline version")
    chosen.add_argument("--older-than", metavar="VERSION", help="items not of this version")
    chosen.add_argument("--rejected", metavar="REASON", help="items rejected with this reason")
    parser.add_argument("--prefix", help="only keys under this prefix (alone: a selection)")


def selection_from(args: argparse.Namespace, *, version: Callable[[], str]) -> Selection:
    """The :class:`Selection` the flags of :func:`add_selection_arguments` ask for;
    ``version`` gives the current pipeline version (for ``--older``).

    Raises:
        ValueError: no selection, or ``--all`` with ``--prefix``.
    """
    prefix = args.prefix or ""
    if args.older or args.older_than:
        return Selection("older", prefix=prefix, version=args.older_than or version())
    if args.rejected:
        return Selection("rejected", prefix=prefix, reason=args.rejected)
    if args.all and args.prefix is not None:
        msg = "--all and --prefix: give one"
        raise ValueError(msg)
    if args.all:
        return Selection("all")
    if args.prefix is None:
        msg = "say what to reprocess: --all, --prefix, --older, --older-than or --rejected"
        raise ValueError(msg)
    return Selection("prefix", prefix=prefix)
