"""The process's heap after start-up: frozen, so the cyclic collector stops walking what lives for good.

A worker's start-up objects (modules, classes, functions, clients, compiled schemas: about 140,000 in the
detection bench's process) live as long as it does, and CPython's full collections walk every one of them
each time. Building and writing 11,096 alerts triggered five, 60-90 ms each: half of soar's CPU time in
the cycle. Frozen (:func:`gc.freeze`, after one collection so no garbage is kept), they are left out of
every collection, and the same cycle took 0.63-0.72 CPU-s instead of 1.1-1.4.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> bool:
    """Collect once, then leave every object alive now out of later collections; False if already done.

    Call it once the process has started (imports done, clients built), before the work: a server's
    pre-fork freeze or an earlier call is kept as it is.
    """
    if gc.get_freeze_count():
        return False
    gc.collect()
    gc.freeze()
    return True
