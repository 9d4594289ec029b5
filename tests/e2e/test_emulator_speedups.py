"""The emulator's speed-ups keep AWS behaviour: SDK calls answered in-process
(deploy/local/emulator_transport.py) and moto's UpdateItem validation without quadratic
passes (deploy/local/moto_dynamodb.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from moto.dynamodb.models import dynamodb_backends

from deploy.local import moto_dynamodb
from deploy.local.emulator import Emulator
from tests.e2e.conftest import count_calls

REGION = "us-east-1"
ACCOUNT = "123456789012"


def _session() -> boto3.session.Session:
    return boto3.session.Session(
        region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )


@pytest.fixture(scope="module")
def routed() -> Iterator[Emulator]:
    """An emulator whose endpoint this process's new SDK sessions reach in-process."""
    with Emulator(port=0, in_process_sdk=True) as emulator:
        yield emulator


def _table(dynamodb: Any) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def test_in_process_calls_keep_odd_keys_underscored_metadata_and_errors(routed: Emulator) -> None:
    url = routed.endpoint_url
    s3 = _session().client("s3", endpoint_url=url)
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    key = "dir/a b+c ü%2F#1.jpg"
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=b"\xff\xd8bytes",
        ContentType="image/jpeg",
        Metadata={"original_name": "x y.jpg", "image-id": "abc"},
    )
    head = s3.head_object(Bucket=bucket, Key=key)
    got = s3.get_object(Bucket=bucket, Key=key)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=bucket, Key="nope")

    assert got["Body"].read() == b"\xff\xd8bytes"
    assert head["ContentType"] == "image/jpeg" and head["ContentLength"] == 7
    assert head["Metadata"] == {"original_name": "x y.jpg", "image-id": "abc"}
    assert keys == [key]
    assert missing.value.response["Error"]["Code"] == "404"


def test_calls_stay_in_process_when_the_http_listener_is_gone() -> None:
    emulator = Emulator(port=0, in_process_sdk=True)
    url = emulator.start()
    routed = _session().client("dynamodb", endpoint_url=url)
    server = emulator._server
    assert server is not None
    server.shutdown()  # no more HTTP; the in-process route stays
    server.server_close()
    try:
        table = _table(routed)
        routed.put_item(TableName=table, Item={"id": {"S": "1"}, "n": {"N": "7"}})
        item = routed.get_item(TableName=table, Key={"id": {"S": "1"}})["Item"]
        with pytest.raises(routed.exceptions.ConditionalCheckFailedException):
            routed.put_item(
                TableName=table,
                Item={"id": {"S": "1"}},
                ConditionExpression="attribute_not_exists(id)",
            )
    finally:
        emulator.stop()
    assert item == {"id": {"S": "1"}, "n": {"N": "7"}}
    after_stop = _session().client("dynamodb", endpoint_url=url)
    with pytest.raises(EndpointConnectionError):
        after_stop.list_tables()


@pytest.fixture(scope="module")
def dynamodb(routed: Emulator) -> Any:
    return _session().client("dynamodb", endpoint_url=routed.endpoint_url)


def _update(dynamodb: Any, table: str, expression: str, **kw: Any) -> dict[str, Any]:
    return dict(
        dynamodb.update_item(
            TableName=table,
            Key={"id": {"S": "k"}},
            UpdateExpression=expression,
            ReturnValues="ALL_NEW",
            **kw,
        )["Attributes"]
    )


def test_update_item_sets_removes_and_checks_conditions(dynamodb: Any) -> None:
    assert moto_dynamodb.installed()
    table = _table(dynamodb)
    names = {"#a": "a", "#b": "b", "#c": "c"}
    first = _update(
        dynamodb,
        table,
        "SET #a = :a, #b = :b, #c = if_not_exists(#c, :c)",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={":a": {"S": "1"}, ":b": {"N": "2"}, ":c": {"S": "kept"}},
    )
    # the same expression text again (a cached syntax tree), other values
    second = _update(
        dynamodb,
        table,
        "SET #a = :a, #b = :b, #c = if_not_exists(#c, :c)",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={
            ":a": {"S": "x"},
            ":b": {"N": "3"},
            ":c": {"S": "new"},
            ":two": {"N": "2"},
        },
        ConditionExpression="#b = :two",
    )
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        _update(
            dynamodb,
            table,
            "SET #a = :a REMOVE #b",
            ExpressionAttributeNames={"#a": "a", "#b": "b"},
            ExpressionAttributeValues={":a": {"S": "y"}, ":two": {"N": "2"}},
            ConditionExpression="#b = :two",
        )
    third = _update(dynamodb, table, "REMOVE #b", ExpressionAttributeNames={"#b": "b"})

    assert first == {"id": {"S": "k"}, "a": {"S": "1"}, "b": {"N": "2"}, "c": {"S": "kept"}}
    assert second == {"id": {"S": "k"}, "a": {"S": "x"}, "b": {"N": "3"}, "c": {"S": "kept"}}
    assert third == {"id": {"S": "k"}, "a": {"S": "x"}, "c": {"S": "kept"}}


@pytest.mark.parametrize(
    ("expression", "names", "message"),
    [
        ("SET a = :v SET b = :v", {}, 'The "SET" section can only be used once'),
        ("SET a = :v REMOVE b REMOVE c", {}, 'The "REMOVE" section can only be used once'),
        ("SET a = :v, b = :v, a = :v", {}, "Two document paths overlap"),
        ("SET #x = :v, #y = :v", {"#x": "x", "#y": "x"}, "Two document paths overlap"),
        ("SET m.n = :v, m = :v", {}, "Two document paths overlap"),
        ("SET id = :v", {}, "Cannot update attribute id"),
    ],
)
def test_update_item_still_refuses_invalid_expressions(
    dynamodb: Any, expression: str, names: dict[str, str], message: str
) -> None:
    table = _table(dynamodb)
    extra: dict[str, Any] = {"ExpressionAttributeNames": names} if names else {}
    with pytest.raises(ClientError) as refused:
        dynamodb.update_item(
            TableName=table,
            Key={"id": {"S": "k"}},
            UpdateExpression=expression,
            ExpressionAttributeValues={":v": {"S": "1"}},
            **extra,
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert message in refused.value.response["Error"]["Message"]


def _calls_of_update(backend: Any, table: str, actions: int) -> int:
    expression = "SET " + ", ".join(f"#f{n} = :f{n}" for n in range(actions))
    names = {f"#f{n}": f"field{n}" for n in range(actions)}
    values = {f":f{n}": {"S": str(n)} for n in range(actions)}
    return count_calls(
        lambda: backend.update_item(table, {"id": {"S": f"k{actions}"}}, expression, names, values)
    )


def test_update_item_cost_grows_linearly_with_its_actions(dynamodb: Any) -> None:
    table = _table(dynamodb)
    backend = dynamodb_backends[ACCOUNT][REGION]
    small = _calls_of_update(backend, table, 8)
    large = _calls_of_update(backend, table, 64)

    # 8x the actions: moto's own checks made 17x the calls (quadratic); now 9x
    assert large <= small * 11, (small, large)


WIRE_VALUES: list[Any] = [
    {"S": "text"},
    {"S": ""},
    {"N": "12.50"},
    {"BOOL": False},
    {"NULL": True},
    {"SS": ["a", "b"]},
    {"NS": ["1", "2.5"]},
    {"L": [{"S": "x"}, {"N": "1"}, {"M": {"k": {"BOOL": True}}}, {"L": []}]},
    {"M": {"renditions": {"L": [{"M": {"key": {"S": "a/b.jpg"}, "width": {"N": "500"}}}]}}},
    {"M": {}},
    {"B": b"\x00\xffbinary"},
    {"BS": [b"\x01", b"\x02"]},
    {"M": {"nested": {"B": b"\x00"}}},
]


@pytest.mark.parametrize("value", WIRE_VALUES, ids=lambda v: "-".join(v))
def test_attribute_values_are_serialized_as_moto_serializes_them(
    value: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.core.serialize import BaseJSONSerializer, JSONSerializer, XFormedAttributePicker
    from moto.core.utils import get_service_model

    moto_dynamodb.install()
    service = get_service_model("dynamodb")
    serializer = JSONSerializer(
        operation_model=service.operation_model("GetItem"),
        pretty_print=False,
        value_picker=XFormedAttributePicker(),
    )
    shape = service.shape_for("AttributeValue")
    fast: dict[str, Any] = {}
    serializer._serialize_type_structure(fast, value, shape, "attr")
    original = moto_dynamodb._installed["BaseJSONSerializer._serialize_type_structure"]
    monkeypatch.setattr(BaseJSONSerializer, "_serialize_type_structure", original)
    expected: dict[str, Any] = {}
    serializer._serialize_type_structure(expected, value, shape, "attr")

    assert fast == expected


def test_items_of_every_type_come_back_as_they_were_written(dynamodb: Any) -> None:
    table = _table(dynamodb)
    item = {
        "id": {"S": "every-type"},
        "s": {"S": "ü text"},
        "n": {"N": "-1.5"},
        "b": {"B": b"\x00\xff"},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2"]},
        "bs": {"BS": [b"\x01"]},
        "m": {"M": {"l": {"L": [{"N": "1"}, {"NULL": True}, {"M": {"b": {"B": b"\x02"}}}]}}},
        "t": {"BOOL": True},
    }
    dynamodb.put_item(TableName=table, Item=item)

    got = dynamodb.get_item(TableName=table, Key={"id": {"S": "every-type"}})["Item"]
    scanned = dynamodb.scan(TableName=table)["Items"]

    def unordered(value: dict[str, Any]) -> dict[str, Any]:  # sets come back in any order
        return {
            k: {t: sorted(v) if t in ("SS", "NS", "BS") else v for t, v in typed.items()}
            for k, typed in value.items()
        }

    assert unordered(got) == unordered(item)
    assert [unordered(i) for i in scanned] == [unordered(item)]


def _shape_of(node: Any, parent: Any = None) -> Any:
    """A syntax tree as nested tuples (type, fields, children); asserts parent links."""
    from moto.dynamodb.parsing.ast_nodes import Node

    if not isinstance(node, Node):
        return repr(node)
    assert node.parent is parent
    fields = sorted((k, repr(v)) for k, v in vars(node).items() if k not in ("children", "parent"))
    children = [_shape_of(child, node) for child in node.children or []]
    return (type(node).__name__, fields, children)


def test_a_cached_syntax_tree_is_copied_whole() -> None:
    from moto.dynamodb.models import UpdateExpressionParser
    from moto.dynamodb.parsing import validators

    moto_dynamodb.install()
    expression = (
        "SET #a = :a, #b.c[1] = if_not_exists(#b, :b) + :one, m = list_append(m, :l) "
        "REMOVE #r0, x.y ADD n :one DELETE s :s"
    )
    tree = UpdateExpressionParser.make(expression)
    assert UpdateExpressionParser.make(expression) is tree  # from the cache

    copied = validators.deepcopy(tree)

    assert copied is not tree
    assert _shape_of(copied) == _shape_of(tree)
    assert _shape_of(moto_dynamodb._copy_syntax_tree(tree)) == _shape_of(tree)


def test_a_condition_is_parsed_once_per_request_and_still_checked(dynamodb: Any) -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    table = _table(dynamodb)
    names, values = {"#s": "status"}, {":open": {"S": "pending"}}
    first = ConditionExpressionParser("#s = :open", names, values)
    op = first.parse()
    again = ConditionExpressionParser("#s = :open", names, values)
    other = ConditionExpressionParser("#s = :open", dict(names), dict(values))

    assert again.parse() is op
    assert (again.expr_attr_names_found, again.expr_attr_values_found) == (["#s"], [":open"])
    assert other.parse() is not op
    # through UpdateItem: the condition still decides
    kwargs: dict[str, Any] = {
        "ConditionExpression": "attribute_not_exists(#s) OR #s = :open",
        "ExpressionAttributeNames": {"#s": "status", "#w": "w"},
    }
    made = _update(
        dynamodb,
        table,
        "SET #s = :open, #w = :w",
        ExpressionAttributeValues={":open": {"S": "pending"}, ":w": {"N": "1"}},
        **kwargs,
    )
    done = _update(
        dynamodb,
        table,
        "SET #s = :done, #w = :w",
        ExpressionAttributeValues={
            ":open": {"S": "pending"},
            ":done": {"S": "x"},
            ":w": {"N": "2"},
        },
        **kwargs,
    )
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        _update(
            dynamodb,
            table,
            "SET #w = :w",
            ExpressionAttributeValues={":open": {"S": "pending"}, ":w": {"N": "3"}},
            **kwargs,
        )
    assert made["status"] == {"S": "pending"} and done["status"] == {"S": "x"}
    assert done["w"] == {"N": "2"}


@pytest.mark.parametrize(
    "value",
    [
        {"S": "ü text"},
        {"N": "-12.5"},
        {"B": "AAEC"},
        {"B": b"\x00\x01"},
        {"SS": ["a", "ßb"]},
        {"NS": ["1", "22"]},
        {"BS": [b"\x01", "AQ=="]},
        {"BOOL": True},
        {"NULL": True},
        {"L": [{"S": "x"}, {"N": "1"}, {"L": [{"BOOL": False}]}]},
        {"M": {"rénditions": {"L": [{"M": {"key": {"S": "a/b.jpg"}, "w": {"N": "500"}}}]}}},
        {"M": {}},
    ],
    ids=lambda v: "-".join(v),
)
def test_attribute_sizes_are_moto_s(value: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    moto_dynamodb.install()
    fast = DynamoType(value).size()
    monkeypatch.setattr(DynamoType, "size", moto_dynamodb._installed["DynamoType.size"])

    assert fast == DynamoType(value).size()


def test_the_item_size_limit_still_holds(dynamodb: Any) -> None:
    table = _table(dynamodb)
    big = "x" * 200_000
    dynamodb.put_item(TableName=table, Item={"id": {"S": "k"}, "m": {"M": {"a": {"S": big}}}})

    with pytest.raises(ClientError) as refused:
        _update(
            dynamodb,
            table,
            "SET #l = :l",
            ExpressionAttributeNames={"#l": "l"},
            ExpressionAttributeValues={":l": {"L": [{"S": big}, {"S": "y" * 10_000}]}},
        )

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "size" in refused.value.response["Error"]["Message"].lower()


def test_clauses_are_found_as_moto_finds_them() -> None:
    from moto.dynamodb.models import UpdateExpressionParser
    from moto.dynamodb.parsing import ast_nodes

    moto_dynamodb.install()
    original = moto_dynamodb._installed["Node.find_clauses"]
    expression = (
        "SET #a = :a, #b.c[1] = if_not_exists(#b, :b) + :one, m = list_append(m, :l) "
        "REMOVE #r0, x.y ADD n :one DELETE s :s"
    )
    tree = UpdateExpressionParser.make(expression)
    copied = moto_dynamodb._copy_syntax_tree(tree)  # not a cached tree: searched
    kinds = [
        [ast_nodes.ExpressionAttributeName],
        [ast_nodes.ExpressionAttributeValue],
        [ast_nodes.UpdateExpressionSetAction],
        [ast_nodes.UpdateExpressionRemoveAction, ast_nodes.UpdateExpressionAddAction],
    ]

    for clause_types in kinds:
        expected = [type(c).__name__ for c in original(tree, clause_types)]
        assert [type(c).__name__ for c in tree.find_clauses(clause_types)] == expected
        assert [type(c).__name__ for c in copied.find_clauses(clause_types)] == expected
        assert len(expected) > 0


def test_moto_dispatch_lookups_are_remembered_with_the_same_answers(routed: Emulator) -> None:
    from moto.core import responses
    from moto.dynamodb.responses import DynamoHandler
    from moto.sqs.responses import SQSResponse

    from deploy.local import moto_core

    assert moto_core.installed()
    for cls in (DynamoHandler, SQSResponse):
        assert responses.method_names_from_class(cls) == moto_core._installed[
            "method_names_from_class"
        ](cls)
    assert responses.camelcase_to_underscores("ReceiveMessage") == "receive_message"
    sqs = _session().client("sqs", endpoint_url=routed.endpoint_url)
    queue = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="hello")
    got = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)["Messages"]
    assert [m["Body"] for m in got] == ["hello"]
