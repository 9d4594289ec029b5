"""Benchmark rows for rendition sets (issue 10), run by ``benchmarks/engine.py``.

Time (the 12 MP JPEG; CPU ms of this process, best of interleaved rounds as in
``engine.py``), side by side, for each web preset (``web``: 320 px and the default's
500 px as AVIF, WebP and JPEG; ``web-large``: 320, 640 and 1280 px):

- default: ``imgproc.process(data)``, today's single 500 px rendition;
- default set: ``imgproc.process_set(data, preset("default"))``: the same bytes plus
  the set's extras (SHA-256 of the input, dominant colour, BlurHash);
- PRESET: ``process_set(data, preset(PRESET))``: one decode, every rendition;
- PRESET naive: the same renditions, each decoded on its own
  (``imgproc.engine.decode_upright`` at the rendition's size, JPEG draft included,
  then ``encode_as``): what calling the engine once per rendition costs;
- PRESET pyvips: libvips making the same set its best way: ``thumbnail_buffer`` once
  at the largest size (shrink-on-load), ``copy_memory``, ``thumbnail_image`` for the
  smaller sizes, then ``.avif[Q=60,effort=0]`` (aom cpu-used 9, as the engine's
  speed 9), ``.webp[Q=80,effort=2]`` and ``.jpg[Q=85,optimize_coding]``
  (``VIPS_CONCURRENCY=1``);
- floor: PRESET pixels only: the decode and every resize of the set, no encoding
  (the floor any encoder choice sits on).

Memory (the 24 MP JPEG): peak RSS (``VmHWM``) of a fresh process running
``process`` (default) and ``process_set`` with each web preset
(:data:`MEMORY_WORK`, run by ``engine.py``'s ``measure_memory``).

Targets (issue 10), for ``web``: <= 2 x the default rendition; < web naive; < web
pyvips; memory <= 1.5 x default. The default rendition the check uses is the
default *set*, which is what the resize function runs for every upload: the same
decode and encode as ``process`` plus the SHA-256 of the original and the
placeholders every processed item carries (about 5 ms on the 12 MP JPEG; the web
set pays them once too). The ratio to bare ``process`` is printed beside it.
``web-large`` is shown beside ``web``, for its cost, with no target.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

PRESETS = ("web", "web-large")
_PYVIPS_SUFFIXES = {
    "avif": ".avif[Q=60,effort=0]",
    "webp": ".webp[Q=80,effort=2]",
    "auto": ".jpg[Q=85,optimize_coding]",
    "jpeg": ".jpg[Q=85,optimize_coding]",
}


def _default(data: bytes) -> int:
    import imgproc

    return imgproc.process(data).size_bytes


def _set(spec: str) -> Callable[[bytes], int]:
    import imgproc

    renditions = imgproc.parse_renditions(spec)

    def run(data: bytes) -> int:
        result = imgproc.process_set(data, renditions)
        return sum(r.size_bytes for r in result.renditions)

    return run


def _distinct(name: str) -> list[tuple[int, str]]:
    """(size, format) of each rendition of preset ``name``, each once (as the engine makes them)."""
    import imgproc

    return list(dict.fromkeys((r.max_dim_px, r.format) for r in imgproc.preset(name)))


def _naive(name: str) -> Callable[[bytes], int]:
    def run(data: bytes) -> int:
        from imgproc.encode import encode_as
        from imgproc.engine import decode_upright

        total = 0
        for size, fmt in _distinct(name):
            upright = decode_upright(data, max_dim=size)
            total += len(encode_as(upright.image, fmt).data)
        return total

    return run


def _pixels_only(name: str) -> Callable[[bytes], int]:
    def run(data: bytes) -> int:
        import imgproc
        from imgproc.engine import decode_upright
        from imgproc.rendition_engine import derive_sizes, target_size
        from imgproc.shrink import DEFAULT_REDUCING_GAP

        renditions = imgproc.preset(name)
        upright = decode_upright(data, max_dim=renditions.largest_dim_px)
        sizes = {target_size(upright, r) for r in renditions}
        return len(derive_sizes(upright.image, sizes, DEFAULT_REDUCING_GAP))

    return run


def _pyvips(name: str) -> Callable[[bytes], int]:
    def run(data: bytes) -> int:
        import pyvips

        wanted = _distinct(name)
        largest = max(size for size, _ in wanted)
        big = pyvips.Image.thumbnail_buffer(data, largest).copy_memory()
        total = 0
        for size in sorted({size for size, _ in wanted}, reverse=True):
            image = big if size == largest else big.thumbnail_image(size).copy_memory()
            for fmt in (f for s, f in wanted if s == size):
                total += len(image.write_to_buffer(_PYVIPS_SUFFIXES[fmt]))
        return total

    return run


def contenders() -> dict[str, Callable[[bytes], int]]:
    """Row name -> function of the input bytes returning the total output bytes."""
    rows: dict[str, Callable[[bytes], int]] = {
        "default (process)": _default,
        "default set (process_set)": _set("default"),
    }
    for name in PRESETS:
        rows[f"{name} (process_set, one decode)"] = _set(name)
        rows[f"{name} naive (decode per rendition)"] = _naive(name)
        rows[f"{name} pyvips"] = _pyvips(name)
        rows[f"floor: {name} pixels only (no encode)"] = _pixels_only(name)
    return rows


def time_sets(data: bytes, quick: bool) -> dict[str, tuple[float, int]]:
    """Best CPU ms and output bytes per contender, interleaved rounds after a warm-up."""
    rows = contenders()
    out_bytes = {name: fn(data) for name, fn in rows.items()}  # warm-up
    rounds = 2 if quick else 5
    times: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(rounds):
        for name, fn in rows.items():
            gc.collect()
            started = time.process_time()
            fn(data)
            times[name].append((time.process_time() - started) * 1000)
    return {name: (min(times[name]), out_bytes[name]) for name in rows}


def _memory_work(spec: str) -> tuple[str, str]:
    """(imports, work) for ``engine.measure_memory``'s fresh process: make the set ``spec``."""
    work = (
        f"result = imgproc.process_set(data, imgproc.parse_renditions({spec!r}))\n"
        "out = b''.join(r.data for r in result.renditions)"
    )
    return "import imgproc", work


MEMORY_WORK = {
    "default (process)": ("import imgproc", "out = imgproc.process(data).data"),
    **{f"{name} (process_set)": _memory_work(name) for name in PRESETS},
}
"""Rows of the memory table: name -> (imports, work) run by ``engine.measure_memory``."""


def report(
    timed: dict[str, tuple[float, int]] | None,
    memory: dict[str, tuple[float, float] | str] | None,
    print_table: Callable[[list[str], list[list[str]]], None],
) -> list[tuple[bool, str]]:
    """Print the rendition tables; return the (passed, text) target checks."""
    checks: list[tuple[bool, str]] = []
    if timed is not None:
        base = timed["default (process)"][0]
        print("\nRendition sets, jpeg_12mp: CPU ms, best of the rounds, single-threaded")
        rows = [
            [name, f"{ms:.1f}", f"{ms / base:.2f}", f"{size / 1000:,.0f}"]
            for name, (ms, size) in timed.items()
        ]
        print_table(["row", "CPU ms", "x default", "out kB (all files)"], rows)
        web = timed["web (process_set, one decode)"][0]
        naive = timed["web naive (decode per rendition)"][0]
        vips = timed["web pyvips"][0]
        made = timed["default set (process_set)"][0]
        print(
            f"web / default (process, no hash or placeholders): {web / base:.2f}x; "
            f"web / default set (what the pipeline runs): {web / made:.2f}x"
        )
        checks += [
            (
                web <= 2 * made,
                f"web {web:.1f} ms <= 2 x default set {made:.1f} ms = {2 * made:.1f} ms",
            ),
            (web < naive, f"web {web:.1f} ms < web naive {naive:.1f} ms"),
            (web < vips, f"web {web:.1f} ms < web pyvips {vips:.1f} ms"),
        ]
    if memory is not None:
        print("\nRendition sets, memory: fresh process on jpeg_24mp (peak RSS, VmHWM)")
        mem_rows = [
            [name, "error", value]
            if isinstance(value, str)
            else [name, f"{value[0]:.1f}", f"{value[1]:.1f}"]
            for name, value in memory.items()
        ]
        print_table(["row", "peak MB", "delta over baseline MB"], mem_rows)
        default, web_mem = memory.get("default (process)"), memory.get("web (process_set)")
        if isinstance(default, tuple) and isinstance(web_mem, tuple):
            limit = 1.5 * default[0]
            checks.append(
                (
                    web_mem[0] <= limit,
                    f"memory jpeg_24mp: web peak {web_mem[0]:.1f} MB <= 1.5 x default "
                    f"{default[0]:.1f} MB = {limit:.1f} MB",
                )
            )
        else:
            checks.append((False, f"memory jpeg_24mp: default {default} / web {web_mem}"))
    return checks
