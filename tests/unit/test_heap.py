"""The start-up freeze: in a process of its own, since a freeze lasts for the process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import gc, weakref
    from soar.heap import freeze_startup_heap

    class Node:
        pass

    kept = Node()
    garbage = Node()
    garbage.self = garbage  # a cycle: only the collector frees it
    dead = weakref.ref(garbage)
    del garbage
    assert gc.get_freeze_count() == 0
    assert freeze_startup_heap() is True
    assert dead() is None, "the garbage of start-up was frozen instead of freed"
    assert gc.get_freeze_count() > 0
    assert not any(o is kept for o in gc.get_objects()), "a start-up object is still walked"
    frozen = gc.get_freeze_count()
    assert freeze_startup_heap() is False
    assert gc.get_freeze_count() == frozen
    later = Node()
    assert any(o is later for o in gc.get_objects()), "objects made after the freeze must be collected"
    print("ok")
    """
)


def test_freeze_frees_startup_garbage_then_leaves_live_objects_out_of_collections() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
