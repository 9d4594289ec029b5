"""deploy/aws/template.yaml for an image's whole life (issues 9 and 11): exactly the deletes
needed, a role for S3 Batch Operations, reprocess files, the give-up alarm."""

from __future__ import annotations

from typing import Any

import pytest
from cfnlint.decode import decode_str

from tests.deploy.conftest import TEMPLATE_PATH
from tests.deploy.test_template import allowed, statements


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decoded, matches = decode_str(TEMPLATE_PATH.read_text(encoding="utf-8"))
    assert not matches, matches
    return decoded


def deletes(template: dict[str, Any], role: str) -> list[str]:
    return [r for a, r in allowed(template, role) if a == "s3:DeleteObject"]


def test_each_role_deletes_only_what_it_must(template: dict[str, Any]) -> None:
    # resize: renditions only (removals, give-ups, replaced renditions); never an original
    assert deletes(template, "ResizeFunctionRole") == ["{'Fn::Sub': '${ProcessedBucket.Arn}/*'}"]
    denied = [s for s in statements(template, "ResizeFunctionRole") if s["Effect"] == "Deny"]
    assert "s3:DeleteObject" in denied[0]["Action"]
    assert denied[0]["Resource"] == {"Fn::Sub": "${UploadsBucket.Arn}/*"}
    # api: the original of DELETE /images/{id}, nothing in the processed bucket
    assert deletes(template, "ApiFunctionRole") == ["{'Fn::Sub': '${UploadsBucket.Arn}/*'}"]
    assert ("s3:ListBucket", "{'Fn::GetAtt': ['ProcessedBucket', 'Arn']}") in allowed(
        template, "ResizeFunctionRole"
    )


def test_batch_operations_role_invokes_resize_and_reads_and_writes_only_reprocess_files(
    template: dict[str, Any],
) -> None:
    role = template["Resources"]["BatchOperationsRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "batchoperations.s3.amazonaws.com"}
    grants = allowed(template, "BatchOperationsRole")
    assert ("lambda:InvokeFunction", "{'Fn::GetAtt': ['ResizeFunction', 'Arn']}") in grants
    reads = {r for a, r in grants if a in ("s3:GetObject", "s3:GetObjectVersion")}
    assert reads == {"{'Fn::Sub': '${OperationsBucket.Arn}/reprocess/manifests/*'}"}
    writes = {r for a, r in grants if a == "s3:PutObject"}
    assert writes == {"{'Fn::Sub': '${OperationsBucket.Arn}/reprocess/reports/*'}"}
    assert not any(a.endswith("*") for a, _ in grants)


def test_outputs_tell_the_reprocess_tool_everything(template: dict[str, Any]) -> None:
    from deploy.aws.reprocess import REQUIRED_OUTPUTS

    assert set(REQUIRED_OUTPUTS) <= set(template["Outputs"])


def test_deleted_items_expire_after_the_ttl_setting(template: dict[str, Any]) -> None:
    for function in ("ResizeFunction", "ApiFunction"):
        variables = template["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert variables["DELETED_ITEM_TTL_DAYS"] == {"Ref": "DeletedItemTtlDays"}
    table = template["Resources"]["MetadataTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
