"""Machine calibration: how long a durable append takes on this disk (what every durable commit of the
audit log waits for). Appends 512 bytes to a file in ``--dir`` and ``fdatasync``s it, ``--n`` times.

Usage: python bench/bench_fsync.py [--dir DIR] [--n 200]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=".", help="a folder on the disk to measure (default: here)")
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        fd = os.open(os.path.join(folder, "append"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            times = []
            for _ in range(args.n):
                started = time.perf_counter()
                os.write(fd, b"x" * 512)
                os.fdatasync(fd)
                times.append((time.perf_counter() - started) * 1000)
        finally:
            os.close(fd)
    times.sort()
    print(f"append 512 B + fdatasync, {args.n} times: p50 {times[len(times) // 2]:.3f} ms, "
          f"p90 {times[int(len(times) * 0.9)]:.3f} ms")


if __name__ == "__main__":
    main()
