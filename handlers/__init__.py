"""Lambda adapters between AWS events and the image engine (``imgproc``).

Entry points (``handler(event, context)`` of a few lines each):

- ``handlers.resize``: S3 / SQS / EventBridge "object created" -> rendition + item.
- ``handlers.api``: API Gateway REST proxy events -> uploads, status, listing (HTTP mapping).

Rules and use cases: ``handlers.decision`` (what to do with a created object, pure) and
``handlers.pipeline`` (the shell doing its I/O); ``handlers.uploads`` and
``handlers.images`` (the API's writes and reads); ``handlers.item`` (the metadata item,
built in one place); ``handlers.keys`` (ids and keys, pure); ``handlers.auth`` (who is
calling, by ``AUTH_MODE``: the owner); ``handlers.quota`` (per-owner daily upload
limits, with their DynamoDB counter).

Wiring: ``handlers.config`` (settings, declared once), ``handlers.bootstrap`` (the
composition root: settings, clients and stores once per container). Ports in
``handlers.ports``; ``handlers.s3_store``, ``handlers.dynamo_store`` and the counter of
``handlers.quota`` are the only code calling AWS, ``handlers.memory_store`` their
in-memory fakes; ``handlers.events`` and ``handlers.http`` are the only modules knowing
event shapes.
"""
