"""HEAD is answered as GET (the transport drops the body), never 405 (issue 9)."""

from __future__ import annotations

import json

from handlers import api
from tests.handlers.conftest import Aws, LambdaContext, api_event


def test_head_images_answers_like_get(aws: Aws, context: LambdaContext) -> None:
    get = api.handler(api_event("apigw_list_images"), context)
    head = api.handler(api_event("apigw_list_images", method="HEAD"), context)

    assert (get["statusCode"], head["statusCode"]) == (200, 200)
    assert head["headers"]["Content-Type"] == get["headers"]["Content-Type"]
    assert json.loads(head["body"])["items"] == json.loads(get["body"])["items"]


def test_head_of_a_missing_image_is_404(aws: Aws, context: LambdaContext) -> None:
    event = api_event("apigw_get_image", method="HEAD", path="/images/" + "0" * 32)
    event["pathParameters"] = {"proxy": "images/" + "0" * 32}

    assert api.handler(event, context)["statusCode"] == 404
