"""Writing files so that a crash never leaves a half-written one: temp file, fsync, atomic rename.

Checkpoints, saved models, downloads and rewritten logs all go through here.
"""

from __future__ import annotations

import contextlib
import os
import tempfile


def fsync_directory(directory) -> None:
    """Make a rename inside ``directory`` durable (POSIX); skipped where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path, mode="wb", suffix=".tmp"):
    """``with atomic_write(path) as f: ...``: ``path`` holds the old content or all of the new, never a part.

    The data go to a temporary file in the same directory, are flushed to disk, and
    the file is renamed over ``path`` (os.replace is atomic); on any error the
    temporary file is removed and ``path`` is untouched.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=suffix)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temp, 0o666 & ~umask)  # mkstemp makes 0600; the file gets the mode open() would give it
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise
    fsync_directory(directory)
