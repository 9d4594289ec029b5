"""The pipeline on AWS: the CloudFormation template and the deploy tool.

- ``cli``: ``python -m deploy.aws`` (deploy, status, destroy, ...).
- ``options``, ``parameters``: what the tool was asked for; the template's parameters.
- ``image``, ``docker_cli``: build and push the container image to ECR.
- ``stack``, ``functions``: the CloudFormation stack and the Lambda functions' code.
- ``errors``: the tool's errors (usage vs deploy failures).
"""
