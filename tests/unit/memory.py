"""Peak memory of the current process, for probes run in a fresh subprocess."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB.

    Reads ``VmHWM`` from ``/proc/self/status`` on Linux: unlike ``ru_maxrss``
    it starts afresh at ``exec``, so a child of a big pytest process does not
    inherit the parent's peak.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
