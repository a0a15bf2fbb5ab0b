"""Tiny launcher: runs a command and writes its wall time and rusage as JSON to a pipe.

    python -S _spawn.py FD COMMAND...   # FD: the write end of bench.py's pipe

Peak RSS (ru_maxrss) survives fork and exec: a child forked straight from bench.py would start
with bench.py's own high-water mark (pandas, DuckDB, the generator). Forked from this small
process instead, the measured command's ru_maxrss is its own. Stdlib only.
"""

import json
import os
import sys
import time

out_fd = int(sys.argv[1])
cmd = sys.argv[2:]
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.close(out_fd)
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
report = {
    "wall_s": wall,
    "user_s": ru.ru_utime,
    "sys_s": ru.ru_stime,
    "maxrss_kib": ru.ru_maxrss,
    "rc": os.waitstatus_to_exitcode(status),
}
os.write(out_fd, json.dumps(report).encode())
os.close(out_fd)
sys.exit(0)
