"""Network streams for the drivers: one small interface, a sync and an asyncio implementation.

Both offer ``read(max_bytes, timeout)``, ``write(data, timeout)``,
``start_tls(context, server_hostname, timeout)``, ``close``/``aclose`` and
``ssl_object``; both translate ``OSError``/timeouts into cdomail errors at this
boundary (httpcore's ``map_exceptions``), so the drivers above see only
cdomail errors, plus raw ``ssl.SSLError`` from handshakes, which the driver
diagnoses because only it knows the host, port and mode.
"""

from __future__ import annotations
