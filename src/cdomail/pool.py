"""cdomail.Pool (blocking: worker threads) and cdomail.AsyncPool (asyncio tasks).

Both come from one source, ``_async/pool.py``; ``_sync/pool.py`` is generated from
it by ``scripts/unasync.py``. ``cdomail.Pool`` adds one thing to the generated
blocking pool: ``async with cdomail.Pool(...) as pool`` — the form earlier releases
documented — still works and gives an :class:`AsyncPool` with the same settings.
"""

from __future__ import annotations

from types import TracebackType

from ._async.pool import AsyncPool
from ._sync.pool import Pool as _BlockingPool

__all__ = ["AsyncPool", "Pool"]


class Pool(_BlockingPool):
    """A bounded pool of pipelined SMTP connections to one server (blocking API).

    ``with cdomail.Pool(host, port, max_connections=8, ...) as pool:
    pool.send_many(messages)``; see :class:`cdomail.AsyncPool` for the settings.
    ``async with cdomail.Pool(...) as pool`` yields an :class:`AsyncPool` instead.
    """

    async def __aenter__(self) -> AsyncPool:
        pool = AsyncPool(
            self._host, self._port, max_connections=self.max_connections,
            messages_per_connection=self.messages_per_connection, rate_limit=self.rate_limit,
            retries=self.retries, **self._client_options,
        )
        self._async_pools.append(pool)
        return await pool.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._async_pools.pop().aclose()

    @property
    def _async_pools(self) -> list[AsyncPool]:
        # The AsyncPools this blocking pool's ``async with`` blocks opened (innermost last).
        pools: list[AsyncPool] = self.__dict__.setdefault("_async_pools_open", [])
        return pools
