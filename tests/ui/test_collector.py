"""Cyclic garbage is collected on the GUI thread between operations, never during one."""

from __future__ import annotations

import gc
import threading

from ui.collector import IdleCollector


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_collection_waits_for_operations_and_is_given_back_at_the_end(qapp):
    was = gc.isenabled()
    gc.enable()
    busy = threading.Event()
    collector = IdleCollector(busy.is_set, interval_ms=60_000)
    try:
        assert not gc.isenabled()  # never on a worker thread, never mid-operation
        busy.set()
        _Cycle()
        assert collector.collect_if_idle() is False
        assert any(type(o) is _Cycle for o in gc.get_objects())
        busy.clear()
        assert collector.collect_if_idle() is True
        assert not any(type(o) is _Cycle for o in gc.get_objects())
    finally:
        collector.stop()
    assert gc.isenabled()
    if not was:
        gc.disable()


def test_the_app_context_collects_only_when_nothing_runs(ctx):
    assert not gc.isenabled()
    assert ctx.collector.collect_if_idle() is True  # nothing in flight in a fresh context
