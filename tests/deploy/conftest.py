"""Fixtures for the deploy tool tests: moto-backed clients and a fake Docker."""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = PROJECT_ROOT / "deploy" / "aws" / "template.yaml"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No endpoint overrides (moto intercepts the real endpoints), a fixed region."""
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


@pytest.fixture
def moto(aws_env: None) -> Iterator[None]:
    """Everything under moto; its CloudFormation warns about resource types it skips."""
    with warnings.catch_warnings(), mock_aws():
        warnings.simplefilter("ignore", UserWarning)
        logging.getLogger("moto").setLevel(logging.ERROR)
        yield


def client(service: str) -> Any:
    """A boto3 client in the test region (use inside the ``moto`` fixture)."""
    return boto3.client(service, region_name=REGION)


@dataclass
class FakeDocker:
    """The Docker port, faked at its boundary: ``push`` stores a manifest in (moto's) ECR.

    Each build gets a distinct manifest, so each push yields a distinct digest, as a real
    rebuild of changed code would.
    """

    calls: list[tuple[str, Any]] = field(default_factory=list)
    built: dict[str, str] = field(default_factory=dict)

    def login(self, registry: str, username: str, password: str) -> None:
        self.calls.append(("login", (registry, username, bool(password))))

    def build(
        self,
        *,
        context: Path,
        dockerfile: Path,
        tag: str,
        platform: str,
        build_args: Mapping[str, str],
    ) -> None:
        self.calls.append(
            (
                "build",
                {
                    "context": context,
                    "dockerfile": dockerfile,
                    "tag": tag,
                    "platform": platform,
                    "build_args": dict(build_args),
                },
            )
        )
        self.built[tag] = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "size": len(self.built) + 1,
                    "digest": f"sha256:{len(self.built) + 1:064x}",
                },
                # moto derives the image digest from the layer digests
                "layers": [
                    {
                        "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "size": 1,
                        "digest": f"sha256:{len(self.built) + 1:064x}",
                    }
                ],
            }
        )

    def push(self, tag: str) -> None:
        self.calls.append(("push", tag))
        repo_uri, image_tag = tag.rsplit(":", 1)
        repository = repo_uri.split("/", 1)[1]
        client("ecr").put_image(
            repositoryName=repository, imageManifest=self.built[tag], imageTag=image_tag
        )

    def names(self) -> list[str]:
        """The operations in call order."""
        return [name for name, _ in self.calls]


@pytest.fixture
def docker() -> FakeDocker:
    return FakeDocker()


# A small template with the logical ids the tool looks for: two image functions and two
# buckets. (moto's CloudFormation skips some of the full template's resource types, and
# its change sets leave a stack's outputs empty, so the tool never depends on outputs.)
MINIMAL_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  ImageUri: {Type: String}
  NamePrefix: {Type: String}
  Architecture: {Type: String}
  MaxDimension: {Type: Number, Default: 500}
  CorsAllowOrigins: {Type: String, Default: "*"}
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
  Uploads:
    Type: AWS::S3::Bucket
    Properties: {BucketName: !Sub "${NamePrefix}-uploads"}
  Processed:
    Type: AWS::S3::Bucket
    Properties: {BucketName: !Sub "${NamePrefix}-processed"}
  ResizeFunction:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: !Sub "${NamePrefix}-resize"
      PackageType: Image
      Code: {ImageUri: !Ref ImageUri}
      ImageConfig: {Command: [handlers.resize.handler]}
      Role: !GetAtt Role.Arn
  ApiFunction:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: !Sub "${NamePrefix}-api"
      PackageType: Image
      Code: {ImageUri: !Ref ImageUri}
      ImageConfig: {Command: [handlers.api.handler]}
      Role: !GetAtt Role.Arn
Outputs:
  ApiUrl: {Value: !Sub "https://example.execute-api.${AWS::Region}.amazonaws.com/v1"}
  UploadsBucket: {Value: !Ref Uploads}
  ProcessedBucket: {Value: !Ref Processed}
  ResizeFunctionName: {Value: !Ref ResizeFunction}
  ApiFunctionName: {Value: !Ref ApiFunction}
"""


@pytest.fixture
def minimal_template(tmp_path: Path) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(MINIMAL_TEMPLATE, encoding="utf-8")
    return path
