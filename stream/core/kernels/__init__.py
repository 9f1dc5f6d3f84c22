"""Numba kernels over :class:`stream.core.columns.Columns`: the engine's hot loops, compiled.

They are fed whole batches of rows from other kernels or from the batch API, never called
once per event from Python (entering a compiled function costs about 2.6 us). Each module
ports one rule of the Python modules beside this package, tested equal to it.

Numba's on-disk cache (``cache=True``) checks only each function's own source file, but a
kernel inlines the kernels it calls: after an edit of ``ranks.py`` the cached ``batch`` loop
would still run the old ranks code on the new arrays, and corrupt memory. So the cache is
kept under a fingerprint of every kernel source, and a different fingerprint clears it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def _fresh_cache() -> None:
    here = Path(__file__).parent
    sources = sorted(here.glob("*.py"))
    fingerprint = hashlib.blake2b(b"".join(p.read_bytes() for p in sources)).hexdigest()
    cache = here / "__pycache__"
    stamp = cache / "kernels.fingerprint"
    try:
        if stamp.exists() and stamp.read_text() == fingerprint:
            return
        for stale in [*cache.glob("*.nbi"), *cache.glob("*.nbc")]:
            stale.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        stamp.write_text(fingerprint)
    except OSError:
        # A read-only install: numba then caches in the user's cache directory, which a
        # new version of the package, installed anew, starts without.
        return


_fresh_cache()
