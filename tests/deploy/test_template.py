"""deploy/aws/template.yaml: cfn-lint clean, and it says what the handlers and the issue need."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file
from cfnlint.decode import decode_str

from deploy.local import apigw_events, compose_init, http_front
from handlers.dynamo_store import TABLE_DEFINITION, TTL_SPECIFICATION
from tests.deploy.conftest import PROJECT_ROOT, TEMPLATE_PATH


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decoded, matches = decode_str(TEMPLATE_PATH.read_text(encoding="utf-8"))
    assert not matches, matches
    return decoded


def resources_of(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {
        name: r.get("Properties", {})
        for name, r in template["Resources"].items()
        if r["Type"] == type_
    }


def statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    props = template["Resources"][role]["Properties"]
    return [s for p in props["Policies"] for s in p["PolicyDocument"]["Statement"]]


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def test_cfn_lint_passes_including_informational_checks() -> None:
    matches = lint_file(TEMPLATE_PATH, config=ManualArgs(include_checks=["I"]))
    assert [str(m) for m in matches] == []


def test_table_mirrors_dynamo_store_table_definition(template: dict[str, Any]) -> None:
    table = template["Resources"]["MetadataTable"]["Properties"]
    assert table["BillingMode"] == TABLE_DEFINITION["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == TABLE_DEFINITION["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        TABLE_DEFINITION["AttributeDefinitions"], key=lambda a: a["AttributeName"]
    )
    assert table["GlobalSecondaryIndexes"] == TABLE_DEFINITION["GlobalSecondaryIndexes"]
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    # pending uploads that never arrive expire (a separate API call for create_table users)
    assert table["TimeToLiveSpecification"] == TTL_SPECIFICATION


def config_variables() -> set[str]:
    """Every upper-case string constant in handlers/config.py (the variables it reads)."""
    tree = ast.parse((PROJECT_ROOT / "handlers" / "config.py").read_text(encoding="utf-8"))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.isupper()
        and node.value.replace("_", "").isalnum()
    }


@pytest.mark.parametrize("function, role", [("ResizeFunction", "resize"), ("ApiFunction", "api")])
def test_function_environment_uses_only_variables_the_handlers_read(
    template: dict[str, Any], function: str, role: str
) -> None:
    from handlers.config import REQUIRED

    variables = template["Resources"][function]["Properties"]["Environment"]["Variables"]
    known = config_variables()
    unknown = [n for n in variables if n not in known and not n.startswith("POWERTOOLS_")]
    assert unknown == []
    assert set(REQUIRED[role]) <= set(variables)


def test_functions_run_the_image_with_a_command_each(template: dict[str, Any]) -> None:
    functions = resources_of(template, "AWS::Lambda::Function")
    assert set(functions) == {"ResizeFunction", "ApiFunction"}
    for props in functions.values():
        assert props["PackageType"] == "Image"
        assert props["Code"] == {"ImageUri": {"Ref": "ImageUri"}}
        assert props["RecursiveLoop"] == "Terminate"
    resize, api = functions["ResizeFunction"], functions["ApiFunction"]
    assert resize["ImageConfig"]["Command"] == ["handlers.resize.handler"]
    assert api["ImageConfig"]["Command"] == ["handlers.api.handler"]
    assert (resize["MemorySize"], resize["Timeout"]) == (1024, 60)
    assert (api["MemorySize"], api["Timeout"]) == (512, 29)
    # the compose Lambda wiring makes the same functions
    for name, props in (("resize", resize), ("api", api)):
        spec = compose_init.FUNCTIONS[name]
        assert props["ImageConfig"]["Command"] == [spec["command"]]
        assert (props["MemorySize"], props["Timeout"]) == (spec["memory_mb"], spec["timeout_s"])


def test_buckets_are_private_encrypted_and_abort_abandoned_uploads(
    template: dict[str, Any],
) -> None:
    buckets = resources_of(template, "AWS::S3::Bucket")
    assert set(buckets) == {"UploadsBucket", "ProcessedBucket"}
    for props in buckets.values():
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        rule = props["LifecycleConfiguration"]["Rules"][0]
        assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    condition, with_origins, without = buckets["UploadsBucket"]["CorsConfiguration"]["Fn::If"]
    assert (condition, without) == ("HasCorsOrigins", {"Ref": "AWS::NoValue"})
    (cors,) = with_origins["CorsRules"]
    assert cors["AllowedMethods"] == ["POST"]  # presigned POST only; nothing PUTs from a page
    notification = buckets["UploadsBucket"]["NotificationConfiguration"]
    assert notification == {
        "QueueConfigurations": [
            {"Event": "s3:ObjectCreated:*", "Queue": {"Fn::GetAtt": ["ResizeQueue", "Arn"]}}
        ]
    }
    # the queue policy must exist before S3 can validate the notification
    assert template["Resources"]["UploadsBucket"]["DependsOn"] == "ResizeQueuePolicy"


def test_queue_redrives_to_a_dlq_with_an_alarm_and_feeds_resize(
    template: dict[str, Any],
) -> None:
    queue = template["Resources"]["ResizeQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["ResizeDeadLetterQueue", "Arn"]
    }
    resize_timeout_s = template["Resources"]["ResizeFunction"]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * resize_timeout_s
    alarm = template["Resources"]["DeadLetterAlarm"]["Properties"]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["ResizeDeadLetterQueue", "QueueName"]}
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    (mapping,) = resources_of(template, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["FunctionName"] == {"Ref": "ResizeFunction"}


def allowed(template: dict[str, Any], role: str) -> list[tuple[str, str]]:
    """``(action, resource as text)`` pairs the role's policy allows."""
    return [
        (action, str(resource))
        for s in statements(template, role)
        if s["Effect"] == "Allow"
        for action in as_list(s["Action"])
        for resource in as_list(s["Resource"])
    ]


def test_resize_role_reads_uploads_writes_processed_and_may_not_write_uploads(
    template: dict[str, Any],
) -> None:
    grants = allowed(template, "ResizeFunctionRole")
    uploads_writes = [(a, r) for a, r in grants if "UploadsBucket" in r and "Put" in a]
    assert uploads_writes == []
    assert ("s3:GetObject", "{'Fn::Sub': '${UploadsBucket.Arn}/*'}") in grants
    assert ("s3:PutObject", "{'Fn::Sub': '${ProcessedBucket.Arn}/*'}") in grants
    denies = [s for s in statements(template, "ResizeFunctionRole") if s["Effect"] == "Deny"]
    assert "s3:PutObject" in denies[0]["Action"]
    assert denies[0]["Resource"] == {"Fn::Sub": "${UploadsBucket.Arn}/*"}
    actions = {a for a, _ in grants}
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} <= actions
    assert not any(a.endswith("*") for a in actions)
    # exactly the DynamoDB calls the resize code makes (GetItem, UpdateItem)
    assert {a for a in actions if a.startswith("dynamodb:")} == {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
    }
    assert called_dynamodb_operations(["pipeline.py", "resize.py"]) == {"get_item", "update_item"}


def called_dynamodb_operations(entry_modules: list[str]) -> set[str]:
    """DynamoDB operations reachable from ``entry_modules``: the DynamoMetadataStore methods
    they call, mapped to the client operations each method makes."""
    handlers_dir = PROJECT_ROOT / "handlers"
    store = ast.parse((handlers_dir / "dynamo_store.py").read_text(encoding="utf-8"))
    (store_class,) = [
        n for n in store.body if isinstance(n, ast.ClassDef) and n.name == "DynamoMetadataStore"
    ]
    operations = {
        method.name: {
            c.args[0].value
            for c in ast.walk(method)
            if isinstance(c, ast.Call)
            and isinstance(c.func, ast.Attribute)
            and c.func.attr == "_call"
            and isinstance(c.args[0], ast.Constant)
        }
        for method in store_class.body
        if isinstance(method, ast.FunctionDef)
    }
    used: set[str] = set()
    for module in entry_modules:
        tree = ast.parse((handlers_dir / module).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name | ast.Attribute)
                and "metadata" in ast.unparse(node.func.value)
            ):
                used |= operations.get(node.func.attr, set())
    return used


def test_api_role_writes_uploads_reads_processed_and_queries_the_index(
    template: dict[str, Any],
) -> None:
    grants = allowed(template, "ApiFunctionRole")
    assert ("s3:PutObject", "{'Fn::Sub': '${UploadsBucket.Arn}/uploads/*'}") in grants
    assert ("s3:GetObject", "{'Fn::Sub': '${ProcessedBucket.Arn}/*'}") in grants
    assert [r for a, r in grants if "ProcessedBucket" in r and a != "s3:GetObject"] == []
    assert ("dynamodb:Query", "{'Fn::Sub': '${MetadataTable.Arn}/index/by_uploaded_at'}") in grants
    assert not any(a.startswith("sqs:") or a.endswith("*") for a, _ in grants)


def test_rest_api_proxies_everything_to_the_api_function(template: dict[str, Any]) -> None:
    api = template["Resources"]["RestApi"]["Properties"]
    assert api["BinaryMediaTypes"] == list(http_front.BINARY_MEDIA_TYPES)
    assert api["BinaryMediaTypes"] == compose_init.BINARY_MEDIA_TYPES
    methods = resources_of(template, "AWS::ApiGateway::Method")
    assert len(methods) == 4
    assert sorted(p["HttpMethod"] for p in methods.values()) == ["ANY", "ANY", "OPTIONS", "OPTIONS"]
    for props in methods.values():
        assert props["Integration"]["Type"] == "AWS_PROXY"
        assert "${ApiFunction.Arn}" in props["Integration"]["Uri"]["Fn::Sub"]
    proxy = template["Resources"]["ProxyResource"]["Properties"]
    assert proxy["PathPart"] == "{proxy+}"
    permission = template["Resources"]["ApiInvokePermission"]["Properties"]
    assert permission["Principal"] == "apigateway.amazonaws.com"


def test_binary_media_types_are_declared_once_and_the_template_lists_them(
    template: dict[str, Any],
) -> None:
    declared = list(apigw_events.BINARY_MEDIA_TYPES)
    assert template["Resources"]["RestApi"]["Properties"]["BinaryMediaTypes"] == declared
    assert http_front.BINARY_MEDIA_TYPES is apigw_events.BINARY_MEDIA_TYPES
    assert declared == compose_init.BINARY_MEDIA_TYPES


def test_parameters_and_outputs(template: dict[str, Any]) -> None:
    assert {"ImageUri", "NamePrefix", "MaxDimension", "CorsAllowOrigins"} <= set(
        template["Parameters"]
    )
    assert {
        "ApiUrl",
        "UploadsBucket",
        "ProcessedBucket",
        "MetadataTable",
        "QueueUrl",
        "DeadLetterQueueUrl",
    } <= set(template["Outputs"])


def test_the_rendition_set_is_a_parameter_of_the_resize_function(
    template: dict[str, Any],
) -> None:
    from deploy.aws.parameters import parameter_problems
    from handlers.config import DEFAULT_RENDITIONS, rendition_set_of
    from imgproc import PRESETS

    spec = template["Parameters"]["Renditions"]
    resize = template["Resources"]["ResizeFunction"]["Properties"]["Environment"]["Variables"]
    assert resize["RENDITIONS"] == {"Ref": "Renditions"}
    assert spec["Default"] == DEFAULT_RENDITIONS
    for value in [*PRESETS, "default:500:jpeg, thumb:200:webp:q=70, hero:1600:avif:speed=8"]:
        assert parameter_problems("Renditions", value, spec) == []
        rendition_set_of(value, 500)  # and the function reads it


def test_template_fits_an_inline_template_body() -> None:
    from deploy.aws.stack import TEMPLATE_BODY_MAX_BYTES

    assert Path(TEMPLATE_PATH).stat().st_size < TEMPLATE_BODY_MAX_BYTES


def test_request_too_large_answers_413_in_the_api_error_shape_with_cors(
    template: dict[str, Any],
) -> None:
    import json

    from deploy.local.apigw_events import UploadLimits
    from handlers.errors import PayloadTooLarge

    responses = {
        p["ResponseType"]: p
        for p in resources_of(template, "AWS::ApiGateway::GatewayResponse").values()
    }
    too_large = responses["REQUEST_TOO_LARGE"]
    assert too_large["StatusCode"] == "413"
    body = json.loads(too_large["ResponseTemplates"]["application/json"])
    assert PayloadTooLarge.code == "too_large"  # the engine's reason code
    # One limit, one message: the function's own (and the local front's) at the defaults.
    assert body == {"error": {"code": PayloadTooLarge.code, "message": UploadLimits().message()}}
    assert too_large["ResponseParameters"] == responses["DEFAULT_4XX"]["ResponseParameters"]
    assert "gatewayresponse.header.Access-Control-Allow-Origin" in cors_of(too_large)


def test_the_stage_serves_a_deployment_made_after_every_gateway_response(
    template: dict[str, Any],
) -> None:
    """Gateway responses take effect only in a deployment made after them."""
    resources = template["Resources"]
    (stage,) = resources_of(template, "AWS::ApiGateway::Stage").values()
    deployment = resources[stage["DeploymentId"]["Ref"]]
    depends = as_list(deployment.get("DependsOn", []))
    gateway_responses = resources_of(template, "AWS::ApiGateway::GatewayResponse")
    assert set(gateway_responses) <= set(depends)


def test_default_gateway_errors_use_the_api_error_shape(template: dict[str, Any]) -> None:
    """429/403/502/504 made by API Gateway itself read like the function's errors."""
    import json

    responses = {
        p["ResponseType"]: p
        for p in resources_of(template, "AWS::ApiGateway::GatewayResponse").values()
    }
    for response_type in ("DEFAULT_4XX", "DEFAULT_5XX"):
        template_text = responses[response_type]["ResponseTemplates"]["application/json"]
        # what API Gateway substitutes: the type as text, the message already JSON-quoted
        rendered = template_text.replace("$context.error.responseType", "THROTTLED").replace(
            "$context.error.messageString", json.dumps('Too "Many" Requests')
        )
        assert json.loads(rendered) == {
            "error": {"code": "THROTTLED", "message": 'Too "Many" Requests'}
        }
        headers = cors_of(responses[response_type])
        # every allowed origin, not only the first: the request's own Origin is echoed
        assert headers["gatewayresponse.header.Access-Control-Allow-Origin"] == (
            "method.request.header.Origin"
        )
        assert headers["gatewayresponse.header.Vary"] == "'Origin'"


def cors_of(gateway_response: dict[str, Any]) -> dict[str, str]:
    """The CORS headers of a gateway response when CorsAllowOrigins is set (else none)."""
    condition, headers, otherwise = gateway_response["ResponseParameters"]["Fn::If"]
    assert (condition, otherwise) == ("HasCorsOrigins", {"Ref": "AWS::NoValue"})
    return dict(headers)


AUTH_TYPES = {"jwt": "COGNITO_USER_POOLS", "iam": "AWS_IAM", "none": "NONE"}


def resolve(value: Any, mode: str) -> Any:
    """``value`` with the AuthMode conditions (AuthJwt, AuthIam) evaluated for ``mode``."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        condition, when_true, when_false = value["Fn::If"]
        truth = {"AuthJwt": mode == "jwt", "AuthIam": mode == "iam"}[condition]
        return resolve(when_true if truth else when_false, mode)
    return value


@pytest.mark.parametrize("mode", ["none", "jwt", "iam"])
def test_no_method_is_left_open_unless_auth_mode_is_none(
    template: dict[str, Any], mode: str
) -> None:
    """Every method but the CORS preflight takes AuthMode's authorization.

    OPTIONS stays NONE: browsers send preflights without credentials, so an authorizer
    there would refuse every cross-origin call before it starts.
    """
    assert template["Parameters"]["AuthMode"]["AllowedValues"] == ["none", "jwt", "iam"]
    assert template["Parameters"]["AuthMode"]["Default"] == "jwt"
    methods = resources_of(template, "AWS::ApiGateway::Method")
    for name, props in methods.items():
        auth = resolve(props["AuthorizationType"], mode)
        if props["HttpMethod"] == "OPTIONS":
            assert auth == "NONE", name
            continue
        assert auth == AUTH_TYPES[mode], name
        authorizer = resolve(props.get("AuthorizerId", {"Ref": "AWS::NoValue"}), mode)
        expected = {"Ref": "ApiAuthorizer"} if mode == "jwt" else {"Ref": "AWS::NoValue"}
        assert authorizer == expected, name


def test_jwt_mode_uses_a_cognito_user_pool_authorizer(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    authorizer = resources["ApiAuthorizer"]
    assert authorizer["Condition"] == "AuthJwt"
    props = authorizer["Properties"]
    assert props["Type"] == "COGNITO_USER_POOLS"
    assert props["IdentitySource"] == "method.request.header.Authorization"
    created, given = {"Fn::GetAtt": ["UserPool", "Arn"]}, {"Ref": "CognitoUserPoolArn"}
    assert props["ProviderARNs"] == [{"Fn::If": ["CreateUserPool", created, given]}]
    assert resources["UserPool"]["Condition"] == resources["UserPoolClient"]["Condition"]
    api_env = resources["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert api_env["AUTH_MODE"] == {"Ref": "AuthMode"}


def test_abuse_limits_throttle_quota_alarm_and_budget(template: dict[str, Any]) -> None:
    from handlers.quota import QUOTA_TABLE_DEFINITION

    resources = template["Resources"]
    (stage,) = resources_of(template, "AWS::ApiGateway::Stage").values()
    settings = {(m["ResourcePath"], m["HttpMethod"]): m for m in stage["MethodSettings"]}
    assert settings["/*", "*"]["ThrottlingRateLimit"] == {"Ref": "ThrottleRateLimit"}
    assert settings["/*", "*"]["ThrottlingBurstLimit"] == {"Ref": "ThrottleBurstLimit"}
    assert settings["/~1{proxy+}", "POST"]["ThrottlingRateLimit"] == {"Ref": "UploadRateLimit"}
    quota = resources["QuotaTable"]["Properties"]
    assert quota["KeySchema"] == QUOTA_TABLE_DEFINITION["KeySchema"]
    assert quota["AttributeDefinitions"] == QUOTA_TABLE_DEFINITION["AttributeDefinitions"]
    api_env = resources["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert api_env["QUOTA_TABLE"] == {"Ref": "QuotaTable"}
    assert api_env["DAILY_UPLOAD_COUNT"] == {"Ref": "DailyUploadCount"}
    alarm = resources["UploadVolumeAlarm"]["Properties"]
    assert (alarm["MetricName"], alarm["Statistic"]) == ("ApiUploadBytes", "Sum")
    assert resources["MonthlyBudget"]["Condition"] == "HasBudget"
    assert template["Parameters"]["BudgetAmount"]["Default"] == 0
    # originals (GPS and all) expire after a month unless the operator says otherwise
    assert template["Parameters"]["UploadsRetentionDays"]["Default"] == 30
    assert template["Parameters"]["CorsAllowOrigins"]["Default"] == ""
