"""The extracts folder on disk: it holds the published sessions' folders and nothing else, and a
session's folder is replaced as a whole.

Replacing: the new folder is written beside the old one as `.<session>.tmp`, then put in place
by one rename. Where `<session>/` exists, the two folders are swapped atomically (Linux
`renameat2(RENAME_EXCHANGE)`; Python's os module has no wrapper, hence ctypes) and the temp name,
now holding the old folder, is removed. A crash at any point thus leaves `<session>/` complete —
the old one or the new one — plus at most `.<session>.tmp`, which the next run removes. Where
the swap is unavailable (another OS, a filesystem without it), the old folder is first renamed
to `.<session>.old`: a crash between the two renames leaves no `<session>/`, which the next run
writes again.

Removal never follows a symlink: a symlink is removed itself, and `shutil.rmtree` does not
descend into the symlinks of the folders it removes.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import sys
from pathlib import Path

AT_FDCWD = -100  # <fcntl.h>: paths relative to the current directory (ours are absolute)
RENAME_EXCHANGE = 2  # <linux/fs.h>


def temp_folder(out: Path, session: int) -> Path:
    return out / f".{session}.tmp"


def remove(path: Path) -> None:
    """Remove a folder with its contents, or a file or a symlink (not its target)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def clear(out: Path, keep: set[str]) -> list[str]:
    """Remove every entry of `out` but the real folders named in `keep`; the names removed."""
    with os.scandir(out) as entries:
        strays = sorted(e.name for e in entries
                        if not (e.name in keep and e.is_dir(follow_symlinks=False)))  # fmt: skip
    for name in strays:
        remove(out / name)
    return strays


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically; False where the system cannot."""
    if sys.platform != "linux":
        return False
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)  # glibc ≥ 2.28
    if renameat2 is None:
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]  # fmt: skip
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP}:  # not supported here
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def put_in_place(new: Path, final: Path) -> None:
    """Make the complete folder `new` (beside `final`) the folder `final`."""
    if not os.path.lexists(final):
        os.rename(new, final)
    elif _exchange(new, final):
        remove(new)  # the old folder, under the temp name
    else:
        old = final.with_name(f".{final.name}.old")
        if os.path.lexists(old):
            remove(old)
        os.rename(final, old)
        os.rename(new, final)
        remove(old)
    fd = os.open(final.parent, os.O_RDONLY)  # the renames on disk
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
