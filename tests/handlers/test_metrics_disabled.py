"""Disabled metrics never reach stdout, however many invocations add them (issue 14 finding)."""

from __future__ import annotations

import pytest

from handlers.observability import MetricUnit, flush_metrics, metrics


def test_disabled_metrics_do_not_pile_up_into_stdout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for _ in range(150):  # Powertools prints a metric on its own once it holds 100 values
        metrics.add_metric(name="ImagesProcessed", unit=MetricUnit.Count, value=1)
        flush_metrics()

    assert metrics.provider.metric_set == {}
    assert "ImagesProcessed" not in capsys.readouterr().out
