"""Process figures the load benchmarks print: file-descriptor limit, CPU seconds and RSS of a PID (Linux /proc)."""
from __future__ import annotations

import os
import resource


def raise_fd_limit() -> int:
    """Raise this process's open-file limit to the hard limit; returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds used by ``pid``."""
    return sum(proc_cpu_user_sys_s(pid))


def proc_cpu_user_sys_s(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds used by ``pid``: the interpreter's part and the kernel's (e.g. socket sends)."""
    with open(f"/proc/{pid}/stat") as fh:
        f = fh.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(f[11]) / tick, int(f[12]) / tick


def proc_rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` [MiB]."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")
