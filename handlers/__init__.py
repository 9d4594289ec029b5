"""Lambda adapters between AWS events and the image engine (``imgproc``).

- ``handlers.resize.handler``: S3 / SQS / EventBridge "object created" -> rendition + item.
- ``handlers.api.handler``: API Gateway REST proxy events -> uploads, status, listing.

``handlers.bootstrap`` builds settings, clients and stores once per container;
``handlers.s3_store`` and ``handlers.dynamo_store`` are the only modules calling AWS;
``handlers.events`` and ``handlers.http`` are the only modules knowing event shapes.
"""
