"""Fetching a file over HTTP: try each mirror in turn, check its MD5, and write it atomically.

A download is written to a temporary file beside its destination, flushed to
disk (fsync) and checked before ``os.replace`` gives it its real name, so an
interrupted or corrupt download never leaves a file that looks complete. Every
network call has a timeout. ``mnist.py`` uses this to fill its cache.
"""

from __future__ import annotations

import hashlib
import http.client
import sys
import urllib.error
import urllib.request
from pathlib import Path

from ..io import atomic_write

_CHUNK = 1 << 20  # read in 1 MiB pieces: the loop runs ~30 times for the largest MNIST file


class DownloadError(OSError):
    """No mirror delivered a file; the message lists each URL tried and what went wrong."""


class ChecksumError(ValueError):
    """A file's MD5 is not the published one; the message names the file or URL and both checksums."""


def md5_of(path) -> str:
    """The MD5 hex digest of a file's bytes."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url, path, md5=None, timeout=30.0) -> Path:
    """Fetch ``url`` into ``path`` atomically; with ``md5``, a mismatch raises ChecksumError and keeps nothing.

    ``timeout`` (seconds) bounds the connection and every read. Network failures
    raise DownloadError naming the URL.
    """
    path = Path(path)
    request = urllib.request.Request(url, headers={"User-Agent": "minigan"})  # some mirrors refuse Python's default
    try:
        # Connect first: an offline machine should not be left with an empty download folder.
        response = urllib.request.urlopen(request, timeout=timeout)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        # URLError covers HTTP errors (404) and refused connections; OSError covers timeouts.
        raise DownloadError(f"{url}: {err}") from err
    with response:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(path, suffix=".part") as out:
                digest, received = hashlib.md5(), 0
                announced = response.headers.get("Content-Length")
                try:
                    for chunk in iter(lambda: response.read(_CHUNK), b""):
                        digest.update(chunk)
                        out.write(chunk)
                        received += len(chunk)
                except (http.client.HTTPException, OSError) as err:
                    raise DownloadError(f"{url}: {err}") from err
                if announced is not None and received != int(announced):
                    # http.client returns a short body without complaint when the connection drops
                    raise DownloadError(f"{url}: the connection closed after {received} of {announced} bytes")
                actual = digest.hexdigest()
                if md5 is not None and actual != md5:
                    raise ChecksumError(f"{url}: MD5 {actual}, expected {md5}; the download is corrupt or not the published file")
        except (DownloadError, ChecksumError):
            raise
        except OSError as err:
            raise DownloadError(f"cannot write the download of {url} into {path.parent}: {err}") from err
    return path


def fetch(filename, base_urls, directory, md5=None, timeout=30.0) -> Path:
    """Download ``filename`` from the first of ``base_urls`` that delivers it (with the right MD5) into ``directory``."""
    if not base_urls:
        raise ValueError(f"fetch({filename!r}): no base URL to download from")
    failures = []
    for base in base_urls:
        url = base.rstrip("/") + "/" + filename
        print(f"minigan: downloading {url}", file=sys.stderr)
        try:
            return download(url, Path(directory) / filename, md5=md5, timeout=timeout)
        except (DownloadError, ChecksumError) as err:
            failures.append(str(err))
    raise DownloadError(f"could not download {filename}:\n" + "\n".join("  " + f for f in failures))
