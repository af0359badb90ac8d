"""Rate limits shared by every process: a sliding window per key, counted atomically in Redis.

Each key is a Redis sorted set of the moments (Redis's own clock, so machines need not agree
on the time) of the attempts let through in the last window. One Lua script drops the ones
older than the window, counts the rest and, when under the limit, adds the new one: all in one
step, so 32 threads or ten web servers sharing the Redis of the ``api-throttle`` cache are let
through exactly ``limit`` times per window between them. A refusal says how long until the
oldest counted attempt leaves the window (the ``Retry-After``).

The Redis is the one behind the ``api-throttle`` cache (``CACHES["api-throttle"]``, a
``django.core.cache.backends.redis.RedisCache``). When it cannot be reached the caller decides;
the API and the sign-in page let the request through (logging a warning), so a Redis outage
never takes the site down.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass

from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured

from exports.queue.namespace import redis_key

CACHE_ALIAS = "api-throttle"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])[a-z]*\s*$")

# KEYS[1]: the sorted set. ARGV: limit, window (ms), member, "hit" or "peek".
# Returns {allowed (1/0), count in the window, ms until a slot frees (0 when allowed)}.
_SCRIPT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  if ARGV[4] == 'hit' then
    redis.call('ZADD', KEYS[1], now, ARGV[3])
    redis.call('PEXPIRE', KEYS[1], window)
    count = count + 1
  end
  return {1, count, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = window
if oldest[2] then wait = tonumber(oldest[2]) + window - now end
return {0, count, wait}
"""


@dataclass(frozen=True)
class Rate:
    """``limit`` attempts per ``window`` seconds, read from text such as ``600/minute``,
    ``20/10m`` or ``5/hour`` (a count, ``/``, an optional multiple and a unit: s, m, h, d)."""

    limit: int
    window: int

    @classmethod
    def parse(cls, text: str, setting: str = "rate") -> Rate:
        match = _RATE.match(text or "")
        if match is None or int(match.group(1)) < 1:
            raise ImproperlyConfigured(
                f"{setting}={text!r}: use a count per period such as 600/minute or 20/10m."
            )
        count, multiple, unit = match.groups()
        return cls(int(count), int(multiple or 1) * _UNITS[unit])


@dataclass(frozen=True)
class Outcome:
    allowed: bool
    count: int
    retry_after: float  # seconds until one more attempt would be let through (0 if allowed)
    member: str = ""  # the attempt recorded (for :func:`release`), empty when none was


def key(*parts: str) -> str:
    """A rate-limit key in this installation's Redis namespace."""
    return redis_key("ratelimit:" + ":".join(parts))


def hit(name: str, rate: Rate) -> Outcome:
    """Count one attempt under ``name`` if the window has room; refuse it otherwise.

    Raises the Redis client's error when Redis cannot be reached (the caller decides).
    """
    member = uuid.uuid4().hex
    allowed, count, wait_ms = _run(name, rate, member, "hit")
    return Outcome(bool(allowed), int(count), int(wait_ms) / 1000, member if allowed else "")


def peek(name: str, rate: Rate) -> Outcome:
    """Whether one more attempt under ``name`` would be let through, counting nothing."""
    allowed, count, wait_ms = _run(name, rate, "", "peek")
    return Outcome(bool(allowed), int(count), int(wait_ms) / 1000)


def release(name: str, outcome: Outcome) -> None:
    """Take back an attempt :func:`hit` counted (a sign-in that turned out right)."""
    if outcome.member:
        _client().zrem(name, outcome.member)


def clear(name: str) -> None:
    _client().delete(name)


def retry_after_header(seconds: float) -> str:
    """Whole seconds, rounded up, at least 1: the value of a ``Retry-After`` header."""
    return str(max(1, math.ceil(seconds)))


def in_words(seconds: float) -> str:
    """``45 seconds``, ``1 minute``, ``3 minutes``, ``2 hours`` (rounded up)."""
    seconds = max(1, math.ceil(seconds))
    size, unit = next(
        (s, u) for s, u in ((3600, "hour"), (60, "minute"), (1, "second")) if seconds >= s
    )
    count = math.ceil(seconds / size)
    return f"{count} {unit}{'' if count == 1 else 's'}"


def _run(name: str, rate: Rate, member: str, mode: str) -> list[int]:
    global _script
    client = _client()
    if _script is None:
        _script = client.register_script(_SCRIPT)  # EVALSHA, loading the script when missing
    return _script(keys=[name], args=[rate.limit, rate.window * 1000, member, mode], client=client)


_script = None


def _client():
    """The Redis client of the ``api-throttle`` cache (its connection pool, its options)."""
    cache = caches[CACHE_ALIAS]
    try:
        return cache._cache.get_client(write=True)
    except AttributeError:
        raise ImproperlyConfigured(
            f'CACHES["{CACHE_ALIAS}"] must be a Redis cache '
            "(django.core.cache.backends.redis.RedisCache): rate limits are counted in Redis."
        ) from None
