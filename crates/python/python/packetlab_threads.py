"""Threads that take turns: a Python thread runs only while every other thread of the
program waits in a call to packetlab, so that a run is the same every time. A thread that
finds a lock taken waits in packetlab too (in virtual time, its timeout too), so that the
holder can run and release it; Event, Semaphore, Barrier and queue.Queue are built on these.
"""

import itertools
import queue
import sys
import threading

from packetlab_bridge import call, channel, say
import packetlab_clock

_print_traceback = None  # set by the shim: its traceback printer

_real_start = threading.Thread.start
_real_join = threading.Thread.join


def _thread_start(self):
    """Start a thread that waits for packetlab's word before its first line runs, and runs
    only while every other thread of the program waits in a call to packetlab."""
    self._packetlab_id = call("spawn", name=self.name)
    body = self.run

    def run():
        channel()
        try:
            body()
        except BaseException:
            sys.stderr.write(f"Exception in thread {self.name}:\n")
            _print_traceback()
        finally:
            say({"op": "thread_exit"})

    self.run = run
    _real_start(self)


def _thread_join(self, timeout=None):
    ident = getattr(self, "_packetlab_id", None)
    if ident is not None:
        call("join", thread=ident, timeout=None if timeout is None else float(timeout))
    _real_join(self, timeout)


_RealCondition = threading.Condition
_real_lock = threading.Lock
_real_thread_init = threading.Thread.__init__
_lock_numbers = itertools.count(1)


class _Lock:
    """threading.Lock for threads that take turns: a thread that finds it taken waits in
    packetlab (in virtual time, its timeout too), so that the holder can run and release it."""

    def __init__(self):
        self._locked = False
        self._number = next(_lock_numbers)
        self._waiters = 0
        self._releases = 0

    def acquire(self, blocking=True, timeout=-1):
        if not self._locked:
            self._locked = True
            return True
        if not blocking:
            return False
        self._waiters += 1
        try:
            while self._locked:
                seen = self._releases
                got = call("lock_wait", lock=self._number, seen=seen,
                            timeout=None if timeout is None or timeout < 0 else float(timeout))
                if not got:
                    return False
        finally:
            self._waiters -= 1
        self._locked = True
        return True

    def release(self):
        if not self._locked:
            raise RuntimeError("release unlocked lock")
        self._locked = False
        self._releases += 1
        if self._waiters:
            call("lock_release", lock=self._number, releases=self._releases)

    def locked(self):
        return self._locked

    def _at_fork_reinit(self):
        self._locked = False

    __enter__ = acquire
    acquire_lock = acquire
    release_lock = release
    locked_lock = locked

    def __exit__(self, *exc):
        self.release()

    def __repr__(self):
        state = "locked" if self._locked else "unlocked"
        return f"<packetlab {state} lock {self._number}>"


class _RLock:
    """threading.RLock over a packetlab lock: the owner may take it again."""

    def __init__(self):
        self._lock = _Lock()
        self._owner = None
        self._count = 0

    def acquire(self, blocking=True, timeout=-1):
        me = threading.get_ident()
        if self._owner == me:
            self._count += 1
            return True
        if not self._lock.acquire(blocking, timeout):
            return False
        self._owner, self._count = me, 1
        return True

    def release(self):
        if self._owner != threading.get_ident():
            raise RuntimeError("cannot release un-acquired lock")
        self._count -= 1
        if self._count == 0:
            self._owner = None
            self._lock.release()

    __enter__ = acquire

    def __exit__(self, *exc):
        self.release()

    # What threading.Condition asks of an RLock.
    def _is_owned(self):
        return self._owner == threading.get_ident()

    def _release_save(self):
        state = (self._owner, self._count)
        self._owner, self._count = None, 0
        self._lock.release()
        return state

    def _acquire_restore(self, state):
        self._lock.acquire()
        self._owner, self._count = state

    def _at_fork_reinit(self):
        self.__init__()


class _Condition(_RealCondition):
    """threading.Condition whose waiters wait in packetlab."""

    def __init__(self, lock=None):
        super().__init__(_RLock() if lock is None else lock)

    def wait(self, timeout=None):
        if not self._is_owned():
            raise RuntimeError("cannot wait on un-acquired lock")
        waiter = _Lock()
        waiter.acquire()
        self._waiters.append(waiter)
        saved = self._release_save()
        got = False
        try:
            got = waiter.acquire(True, -1 if timeout is None else timeout)
            return got
        finally:
            self._acquire_restore(saved)
            if not got:
                try:
                    self._waiters.remove(waiter)
                except ValueError:
                    pass


def _thread_init(self, *args, **kwargs):
    """A thread's own start-up handshake stays on real locks: it happens outside the turns."""
    _real_thread_init(self, *args, **kwargs)
    started = self._started
    started._cond = _RealCondition(_real_lock())


def install(print_traceback):
    global _print_traceback
    _print_traceback = print_traceback
    threading.Thread.start = _thread_start
    threading.Thread.join = _thread_join
    threading.Thread.__init__ = _thread_init
    threading.Lock = _Lock
    threading.RLock = _RLock
    threading.Condition = _Condition
    # threading took its clock when it was imported, before the virtual one was in place.
    threading._time = packetlab_clock.monotonic
    # An executor's work queue (asyncio's getaddrinfo, to_thread) waits on our locks.
    queue.SimpleQueue = queue._PySimpleQueue
    queue.time = packetlab_clock.monotonic
