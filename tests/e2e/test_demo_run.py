"""``python -m deploy.local --demo``: what ``make run`` runs on a fresh clone.

It writes the demo set into ``demo-images/`` under the working directory, processes it
through the API and exits 0 with every picture processed; the large photo takes the
presigned ``POST /uploads`` path.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from deploy.local.demo import DEMO_IMAGES
from tests.e2e.test_batch_form import run_local, table_rows


def test_demo_run_processes_the_whole_set_and_exits_0(tmp_path: Path) -> None:
    done = run_local("--demo", cwd=tmp_path)

    assert done.returncode == 0, done.stderr[-3000:]
    names = [image.filename for image in DEMO_IMAGES]
    assert sorted(p.name for p in (tmp_path / "demo-images").iterdir() if p.is_file()) == sorted(
        [*names, ".demo-set.json"]
    )
    rows = table_rows(done.stdout)
    assert sorted(rows) == sorted(f"demo-images/{name}" for name in names)
    assert all("processed" in row for row in rows.values()), rows
    assert f"{len(names)} of {len(names)} processed" in done.stdout
    results = {
        Path(r["file"]).name: r
        for r in map(json.loads, (tmp_path / "out" / "results.jsonl").read_text().splitlines())
    }
    assert {name: r["status"] for name, r in results.items()} == dict.fromkeys(names, "processed")
    outputs = sorted(p.name for p in (tmp_path / "out").iterdir() if p.name != "results.jsonl")
    assert outputs == sorted(
        [
            "IMG_0001.jpg",
            "animated.jpg",
            "film_scan_16bit.jpg",
            "large_camera_photo.jpg",
            "phone_portrait_exif6.jpg",
            "transparent_logo.png",
            "wide_gamut_p3.jpg",
        ]
    )
    large_id = results["large_camera_photo.jpg"]["item"]["image_id"]
    granted = re.findall(
        r"granted\s+([0-9a-f]{32}) presigned S3 upload via POST /uploads", done.stderr
    )
    assert granted == [large_id]  # the only one over the 4.5 MB body limit


def test_demo_with_paths_is_a_usage_error(tmp_path: Path) -> None:
    done = run_local("--demo", "photo.jpg", cwd=tmp_path)

    assert done.returncode == 2
    assert done.stdout == ""
    assert "paths or --demo, not both" in done.stderr
    assert not (tmp_path / "demo-images").exists()
