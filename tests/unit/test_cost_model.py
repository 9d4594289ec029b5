"""The pricing arithmetic of benchmarks/cost.py (the figures in the README's cost table)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _cost() -> ModuleType:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("cost", ROOT / "benchmarks" / "cost.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["cost"] = module  # dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


cost = _cost()


def test_duration_stretches_below_one_vcpu_only() -> None:
    assert cost.duration_ms(100, 1769) == 100
    assert cost.duration_ms(100, 3008) == 100
    assert cost.duration_ms(100, 1024) == pytest.approx(100 * 1769 / 1024)


def test_compute_price_is_flat_up_to_one_vcpu() -> None:
    # 100 ms of CPU at 1769 MB: 0.1 s x 1769/1024 GB x $0.0000166667, a million times.
    at_full = cost.compute_usd_per_million(100, 1769, "x86_64")
    assert at_full == pytest.approx(0.1 * 1769 / 1024 * 0.0000166667 * 1e6)
    assert cost.compute_usd_per_million(100, 512, "x86_64") == pytest.approx(at_full)
    arm = cost.compute_usd_per_million(100, 1769, "arm64")
    assert arm == pytest.approx(at_full * 0.8, rel=1e-4)


def test_item_size_counts_names_and_values() -> None:
    # "id" (2) + "abc" (3); "n" (1) + 12345 (3 digits pairs: 1 + 3); "ok" (2) + bool (1)
    assert cost.item_bytes({"id": "abc", "n": 12345, "ok": True}) == 5 + 5 + 3


def test_markers_are_replaced_and_kept() -> None:
    text = f"intro\n{cost.MARK_BEGIN}\nold\n{cost.MARK_END}\nrest\n"
    replaced = cost.replace_between_markers(text, "new table")
    assert replaced == f"intro\n{cost.MARK_BEGIN}\nnew table\n{cost.MARK_END}\nrest\n"
    with pytest.raises(ValueError, match="markers"):
        cost.replace_between_markers("no markers", "x")


def test_readme_has_the_cost_markers() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.index(cost.MARK_BEGIN) < readme.index(cost.MARK_END)
