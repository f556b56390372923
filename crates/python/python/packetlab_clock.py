"""The clocks a program reads, in packetlab's virtual time: `time.sleep` waits in it, and
the wall clock starts at a fixed date, 2025-01-01 00:00:00 UTC, the same every run (the
capture's timestamps start there too). The monotonic clocks count from 0.
"""

import datetime as _datetime
import time as _time

from packetlab_bridge import call

# 2025-01-01 00:00:00 UTC: where every run's wall clock starts.
EPOCH = 1735689600

_real = {name: getattr(_time, name) for name in ("localtime", "gmtime", "ctime", "strftime")}


def _virtual():
    return float(call("time"))


def sleep(seconds):
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    call("sleep", secs=float(seconds))


def wall():
    """`time.time()`: the fixed date plus the virtual time."""
    return EPOCH + _virtual()


def wall_ns():
    return int(round(wall() * 1e9))


def monotonic():
    return _virtual()


def monotonic_ns():
    return int(round(_virtual() * 1e9))


def localtime(secs=None):
    return _real["localtime"](wall() if secs is None else secs)


def gmtime(secs=None):
    return _real["gmtime"](wall() if secs is None else secs)


def ctime(secs=None):
    return _real["ctime"](wall() if secs is None else secs)


def asctime(t=None):
    return _time.strftime("%a %b %d %H:%M:%S %Y", localtime() if t is None else t)


def strftime(format, t=None):
    return _real["strftime"](format, localtime() if t is None else t)


class _DateTime(_datetime.datetime):
    """`datetime.datetime` whose `now`, `today` and `utcnow` read the virtual wall clock."""

    @classmethod
    def now(cls, tz=None):
        return cls.fromtimestamp(wall(), tz)

    @classmethod
    def today(cls):
        return cls.fromtimestamp(wall())

    @classmethod
    def utcnow(cls):
        return cls.utcfromtimestamp(wall())


class _Date(_datetime.date):
    """`datetime.date` whose `today` reads the virtual wall clock."""

    @classmethod
    def today(cls):
        return cls.fromtimestamp(wall())


def install():
    _time.sleep = sleep
    _time.time = wall
    _time.time_ns = wall_ns
    _time.monotonic = monotonic
    _time.monotonic_ns = monotonic_ns
    _time.perf_counter = monotonic
    _time.perf_counter_ns = monotonic_ns
    _time.localtime = localtime
    _time.gmtime = gmtime
    _time.ctime = ctime
    _time.asctime = asctime
    _time.strftime = strftime
    for cls, name in ((_DateTime, "datetime"), (_Date, "date")):
        cls.__name__ = cls.__qualname__ = name
        cls.__module__ = "datetime"
        setattr(_datetime, name, cls)
