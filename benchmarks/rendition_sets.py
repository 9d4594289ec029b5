"""Benchmark rows for rendition sets (issue 10), run by ``benchmarks/engine.py``.

Time (the 12 MP JPEG; CPU ms of this process, best of interleaved rounds as in
``engine.py``), side by side:

- default: ``imgproc.process(data)``, today's single 500 px rendition;
- default set: ``imgproc.process_set(data, preset("default"))``: the same bytes plus
  the set's extras (SHA-256 of the input, dominant colour, BlurHash);
- web: ``process_set(data, preset("web"))``: one decode, 10 renditions;
- web naive: the same 10 renditions, each decoded on its own
  (``imgproc.engine.decode_upright`` at the rendition's size, JPEG draft included,
  then ``encode_as``): what calling the engine once per rendition costs;
- web pyvips: libvips making the same set its best way: ``thumbnail_buffer`` once
  at 1280 px (shrink-on-load), ``copy_memory``, ``thumbnail_image`` for the
  smaller sizes, then ``.avif[Q=60,effort=0]`` (aom cpu-used 9, as the engine's
  speed 9), ``.webp[Q=80,effort=2]`` and ``.jpg[Q=85,optimize_coding]``
  (``VIPS_CONCURRENCY=1``).

Levers (the same image), each a spec string through ``process_set``, to show what
a cheaper set would cost: no AVIF at 1280 px; no 1280 px at all; JPEG only (with
and without 1280 px); and "pixels only": the decode and every resize of the web
set, no encoding (the floor any encoder choice sits on).

Memory (the 24 MP JPEG): peak RSS (``VmHWM``) of a fresh process running
``process`` (default) and ``process_set`` with the web preset and with the
no-AVIF-at-1280 and no-1280 levers (:data:`MEMORY_WORK`, run by ``engine.py``'s
``measure_memory``).

Targets (issue 10): web <= 2 x default; web < web naive; web < web pyvips;
memory web <= 1.5 x default.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

SPEC_NO_AVIF_1280 = (
    "default:500, w320:320:avif, w320:320:webp, w320:320, w640:640:avif, w640:640:webp, "
    "w640:640, w1280:1280:webp, w1280:1280"
)
SPEC_NO_1280 = (
    "default:500, w320:320:avif, w320:320:webp, w320:320, w640:640:avif, w640:640:webp, w640:640"
)
SPEC_JPEG_ONLY = "default:500, w320:320, w640:640, w1280:1280"
SPEC_JPEG_NO_1280 = "default:500, w320:320, w640:640"


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


def _naive(data: bytes) -> int:
    import imgproc
    from imgproc.encode import encode_as
    from imgproc.engine import decode_upright

    total = 0
    for rendition in imgproc.preset("web"):
        upright = decode_upright(data, max_dim=rendition.max_dim_px)
        total += len(encode_as(upright.image, rendition.format, **rendition.options()).data)
    return total


def _pixels_only(data: bytes) -> int:
    import imgproc
    from imgproc.engine import decode_upright
    from imgproc.rendition_engine import derive_sizes, target_size
    from imgproc.shrink import DEFAULT_REDUCING_GAP

    web = imgproc.preset("web")
    upright = decode_upright(data, max_dim=web.largest_dim_px)
    sizes = {target_size(upright, r) for r in web}
    return len(derive_sizes(upright.image, sizes, DEFAULT_REDUCING_GAP))


def _pyvips_web(data: bytes) -> int:
    import pyvips

    big = pyvips.Image.thumbnail_buffer(data, 1280).copy_memory()
    total = 0
    for size in (500, 320, 640, 1280):
        image = big if size == 1280 else big.thumbnail_image(size).copy_memory()
        suffixes = [".jpg[Q=85,optimize_coding]"]
        if size != 500:
            suffixes = [".avif[Q=60,effort=0]", ".webp[Q=80,effort=2]", *suffixes]
        total += sum(len(image.write_to_buffer(s)) for s in suffixes)
    return total


def contenders() -> dict[str, Callable[[bytes], int]]:
    """Row name -> function of the input bytes returning the total output bytes."""
    return {
        "default (process)": _default,
        "default set (process_set)": _set("default"),
        "web (process_set, one decode)": _set("web"),
        "web naive (decode per rendition)": _naive,
        "web pyvips": _pyvips_web,
        "lever: web without AVIF at 1280": _set(SPEC_NO_AVIF_1280),
        "lever: web without 1280": _set(SPEC_NO_1280),
        "lever: JPEG only, 3 sizes + default": _set(SPEC_JPEG_ONLY),
        "lever: JPEG only, no 1280": _set(SPEC_JPEG_NO_1280),
        "floor: web pixels only (no encode)": _pixels_only,
    }


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
    "web (process_set)": _memory_work("web"),
    "lever: web without AVIF at 1280": _memory_work(SPEC_NO_AVIF_1280),
    "lever: web without 1280": _memory_work(SPEC_NO_1280),
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
        checks += [
            (web <= 2 * base, f"web {web:.1f} ms <= 2 x default {base:.1f} ms = {2 * base:.1f} ms"),
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
