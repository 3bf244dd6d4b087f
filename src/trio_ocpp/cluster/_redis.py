"""The Redis (Valkey) engine of :class:`~trio_ocpp.cluster._broker.Broker`, on valkey-glide.

valkey-glide runs under trio through anyio. One client carries commands; a second one, made on
first use of :meth:`RedisBroker.messages`, is subscribed to the node's channel (glide
subscribes again by itself after a reconnection); event consumers open a broker of their own,
since a blocking XREADGROUP holds its connection. Every glide error is mapped to
:class:`ClusterUnavailableError` here, at the engine's boundary.

Membership changes are Lua scripts, so that "still mine?" and the change are one step: a node
never removes or extends a key that another node took over.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import glide
import trio

from ._broker import ClusterUnavailableError, StreamEntry

__all__ = ["RedisBroker", "redis_opener"]

T = TypeVar("T")

#: Keys and channels start with the prefix; it is a glob-free name, so that SCAN can match it.
_PREFIX = re.compile(r"[A-Za-z0-9_.-]+")
#: Identities per script call: one call blocks Redis while it runs.
_BATCH = 500
#: Milliseconds a command may take before it fails (glide's default is 250).
_REQUEST_TIMEOUT = 1000


def _script(code: str) -> glide.Script:
    return glide.Script(code)  # type: ignore[no-untyped-call]


# KEYS: membership keys; ARGV: ttl (ms), channel prefix, the values, then the identities.
# Returns the index (from 0) of each value not recorded, then the newer value that holds its key.
_CLAIM = _script("""
local function newer(value, than)
  local node, stamp = string.match(value, '^(%S+) (%d+)$')
  local other, other_stamp = string.match(than, '^(%S+) (%d+)$')
  if not other_stamp then return true end
  if not stamp then return false end
  stamp, other_stamp = tonumber(stamp), tonumber(other_stamp)
  if stamp ~= other_stamp then return stamp > other_stamp end
  return node > other  -- the same microsecond: any order both sides agree on
end
local n, lost = #KEYS, {}
for i, key in ipairs(KEYS) do
  local value, old = ARGV[2 + i], redis.call('GET', key)
  if old == value then
    redis.call('PEXPIRE', key, ARGV[1])
  elseif not old or newer(value, old) then
    redis.call('SET', key, value, 'PX', ARGV[1])
    local owner = old and string.match(old, '^%S+')
    if owner and owner ~= string.match(value, '^%S+') then
      local notice = cjson.encode({t = 'replaced', cp = ARGV[2 + n + i], owner = old, by = value})
      redis.call('PUBLISH', ARGV[2] .. owner, notice)
    end
  else
    lost[#lost + 1] = i - 1
    lost[#lost + 1] = old
  end
end
return lost
""")
# KEYS: membership keys; ARGV: the values.
_RELEASE = _script("""
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i] then redis.call('DEL', key) end
end
return 0
""")
# KEYS: one membership key; ARGV: channel prefix, message.
_ROUTE = _script("""
local owner = redis.call('GET', KEYS[1])
if not owner then return false end
return {owner, redis.call('PUBLISH', ARGV[1] .. string.match(owner, '^%S+'), ARGV[2])}
""")
# KEYS: the stream, its ledger (a list of "<bytes> <id>", oldest first), its total bytes.
# ARGV: maxlen, max bytes, the number of fields, their names, then each entry's values.
# Appends, trims oldest first to the bounds; returns each group that had not been given some of
# the trimmed entries, then how many.
_APPEND = _script("""
local stream, ledger, total_key = KEYS[1], KEYS[2], KEYS[3]
local maxlen, max_bytes, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local sizes, added = {}, 0
for first = 4 + n, #ARGV, n do
  local fields, size = {}, 0
  for j = 1, n do
    local value = ARGV[first + j - 1]
    fields[2 * j - 1], fields[2 * j] = ARGV[3 + j], value
    size = size + #ARGV[3 + j] + #value
  end
  sizes[#sizes + 1] = size .. ' ' .. redis.call('XADD', stream, '*', unpack(fields))
  added = added + size
end
redis.call('RPUSH', ledger, unpack(sizes))
local total = redis.call('INCRBY', total_key, added)
local length = redis.call('LLEN', ledger)
if length <= maxlen and total <= max_bytes then return {} end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local trimmed = {}
while length > maxlen or total > max_bytes do
  local entry = redis.call('LPOP', ledger)
  if not entry then total = 0; break end  -- the total was wrong (a key deleted by hand)
  local size, id = string.match(entry, '^(%d+) (.+)$')
  total, length = total - tonumber(size), length - 1
  trimmed[#trimmed + 1] = {parse(id)}
end
redis.call('SET', total_key, total)
local head = redis.call('LINDEX', ledger, 0)
if head then
  redis.call('XTRIM', stream, 'MINID', string.match(head, ' (.+)$'))
else
  redis.call('XTRIM', stream, 'MAXLEN', 0)
end
local unread = {}
for _, group in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
  local info = {}
  for k = 1, #group, 2 do info[group[k]] = group[k + 1] end
  local ms, seq = parse(info['last-delivered-id'])
  local count = 0
  for _, id in ipairs(trimmed) do
    if id[1] > ms or (id[1] == ms and id[2] > seq) then count = count + 1 end
  end
  if count > 0 then
    unread[#unread + 1] = info['name']
    unread[#unread + 1] = count
  end
end
return unread
""")


def _config(url: str) -> glide.GlideClientConfiguration:
    """A glide configuration from ``redis://[user:password@]host[:port][/db]`` (``rediss://``
    for TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"not a redis:// URL: {url!r}")
    credentials = None
    if parts.password is not None:
        credentials = glide.ServerCredentials(
            unquote(parts.password), unquote(parts.username) if parts.username else None
        )
    database = parts.path.strip("/")
    return glide.GlideClientConfiguration(
        [glide.NodeAddress(parts.hostname or "127.0.0.1", parts.port or 6379)],
        use_tls=parts.scheme == "rediss",
        credentials=credentials,
        database_id=int(database) if database else None,
        request_timeout=_REQUEST_TIMEOUT,
    )


async def _unavailable(operation: Awaitable[T]) -> T:
    try:
        return await operation
    except glide.GlideError as exc:
        raise ClusterUnavailableError(f"Redis: {type(exc).__name__}: {exc}") from exc


def _batches(items: Sequence[T]) -> list[Sequence[T]]:
    return [items[i : i + _BATCH] for i in range(0, len(items), _BATCH)]


def _pairs(flat: Any) -> list[tuple[Any, Any]]:
    """A script's flat reply ``[a1, b1, a2, b2...]`` as pairs."""
    return list(zip(flat[::2], flat[1::2], strict=True))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisBroker:
    """The broker of one node: see :class:`~trio_ocpp.cluster._broker.Broker`."""

    def __init__(
        self,
        client: glide.GlideClient,
        config: glide.GlideClientConfiguration,
        prefix: str,
        node: str,
    ):
        self._client = client
        self._config = config
        self._subscriber: glide.GlideClient | None = None
        self._cp_key = f"{prefix}:cp:"
        self._channel = f"{prefix}:node:"
        self._stream = f"{prefix}:events"
        self._stream_keys = [self._stream, f"{prefix}:events:ledger", f"{prefix}:events:bytes"]
        self.node = node

    def _key(self, identity: str) -> str:
        return self._cp_key + identity

    async def claim(self, held: Sequence[tuple[str, str]], ttl: float) -> list[tuple[int, str]]:
        lost: list[tuple[int, str]] = []
        for start in range(0, len(held), _BATCH):
            batch = held[start : start + _BATCH]
            keys = [self._key(identity) for identity, _ in batch]
            args = [str(int(ttl * 1000)), self._channel]
            args += [value for _, value in batch] + [identity for identity, _ in batch]
            reply = await _unavailable(self._client.invoke_script(_CLAIM, keys, args))
            lost += [(start + int(i), _text(value)) for i, value in _pairs(reply)]
        return lost

    async def release(self, held: Sequence[tuple[str, str]]) -> None:
        for batch in _batches(held):
            keys = [self._key(identity) for identity, _ in batch]
            args = [value for _, value in batch]
            await _unavailable(self._client.invoke_script(_RELEASE, keys, args))

    async def members(self) -> dict[str, str]:
        keys: list[bytes] = []
        cursor: Any = "0"
        while True:
            cursor, found = await _unavailable(
                self._client.scan(cursor, match=self._cp_key + "*", count=1000)
            )
            keys += found  # type: ignore[arg-type]
            if cursor in (b"0", "0"):
                break
        members = {}
        for batch in _batches(keys):
            values = await _unavailable(self._client.mget(list(batch)))
            skip = len(self._cp_key)
            for key, value in zip(batch, values, strict=True):
                if value is not None:  # expired since the scan
                    members[key[skip:].decode()] = value.decode()
        return members

    async def route(self, identity: str, message: bytes) -> tuple[str | None, int]:
        args: list[str | bytes] = [self._channel, message]
        reply = await _unavailable(self._client.invoke_script(_ROUTE, [self._key(identity)], args))
        if reply is None:
            return None, 0
        owner, receivers = reply
        return _text(owner).split(" ", 1)[0], int(receivers)

    async def send(self, node: str, message: bytes) -> int:
        return await _unavailable(self._client.publish(message, self._channel + node))

    async def listening(self, nodes: Sequence[str]) -> list[bool]:
        channels = [self._channel + node for node in nodes]
        counts = await _unavailable(self._client.pubsub_numsub(channels))
        return [bool(counts.get(channel.encode())) for channel in channels]

    async def subscribe(self) -> None:
        if self._subscriber is None:
            self._subscriber = await _unavailable(glide.GlideClient.create(self._config))
            channel = self._channel + self.node
            await _unavailable(self._subscriber.subscribe({channel}, _REQUEST_TIMEOUT))

    async def receive(self) -> bytes:
        assert self._subscriber is not None, "subscribe() first"
        message = (await _unavailable(self._subscriber.get_pubsub_message())).message
        return message if isinstance(message, bytes) else message.encode()

    async def time(self) -> float:
        seconds, microseconds = await _unavailable(self._client.time())
        return int(seconds) + int(microseconds) / 1e6

    async def append(
        self, entries: Sequence[Sequence[tuple[str, str]]], maxlen: int, max_bytes: int
    ) -> dict[str, int]:
        names = [name for name, _ in entries[0]]  # the same fields in each entry
        args = [str(maxlen), str(max_bytes), str(len(names)), *names]
        args += [value for fields in entries for _, value in fields]
        reply = await _unavailable(self._client.invoke_script(_APPEND, self._stream_keys, args))
        return {_text(group): int(count) for group, count in _pairs(reply)}

    async def create_group(self, group: str, start: str) -> None:
        options = glide.StreamGroupOptions(make_stream=True)
        try:
            await self._client.xgroup_create(self._stream, group, start, options)
        except glide.RequestError as exc:
            if "BUSYGROUP" not in str(exc):
                raise ClusterUnavailableError(f"Redis: {exc}") from exc

    async def read_group(
        self, group: str, consumer: str, after: str | None, count: int, block: float
    ) -> list[StreamEntry]:
        blocking = None if after is not None else max(1, int(block * 1000))
        options = glide.StreamReadGroupOptions(count=count, block_ms=blocking)
        streams = {self._stream: ">" if after is None else after}
        try:
            reply = await self._client.xreadgroup(streams, group, consumer, options)
        except glide.RequestError as exc:
            if "NOGROUP" not in str(exc):
                raise ClusterUnavailableError(f"Redis: {exc}") from exc
            # The stream was lost (a Redis restart without persistence): all of the new one.
            await self.create_group(group, "0")
            return []
        entries = (reply or {}).get(self._stream.encode()) or {}
        return [
            (entry_id.decode(), dict(fields))
            for entry_id, fields in entries.items()
            if fields is not None  # trimmed away while it was pending
        ]

    async def take_over(
        self, group: str, consumer: str, idle: float, count: int
    ) -> list[StreamEntry]:
        reply = await _unavailable(
            self._client.xautoclaim(self._stream, group, consumer, int(idle * 1000), "0-0", count)
        )
        entries = reply[1]
        assert isinstance(entries, Mapping)
        return [(entry_id.decode(), dict(fields)) for entry_id, fields in entries.items()]

    async def ack(self, group: str, ids: Sequence[str]) -> None:
        await _unavailable(self._client.xack(self._stream, group, list(ids)))

    async def aclose(self) -> None:
        for client in (self._client, self._subscriber):
            if client is not None:
                with contextlib.suppress(glide.GlideError):
                    await client.close()


def redis_opener(
    url: str, prefix: str
) -> Callable[[str], AbstractAsyncContextManager[RedisBroker]]:
    """Opens the broker of a node (given its id) on the Redis at ``url``; the URL and the
    prefix are checked here, once."""
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"the prefix must match {_PREFIX.pattern}: {prefix!r}")
    config = _config(url)
    # glide prints a line of its own per failed connection (to stdout, outside logging): the
    # cluster says it, once per try. Unless the application set glide's logger up already.
    glide.Logger.init(glide.LogLevel.ERROR)

    @contextlib.asynccontextmanager
    async def open_redis(node: str) -> AsyncIterator[RedisBroker]:
        client = await _unavailable(glide.GlideClient.create(config))
        broker = RedisBroker(client, config, prefix, node)
        try:
            yield broker
        finally:
            with trio.CancelScope(shield=True):
                await broker.aclose()

    return open_redis
