"""The drill's load generator sends each request once: no retry hidden in the HTTP client."""

import asyncio

import aiohttp

from tests.drill.load import KEEPALIVE, session

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"


async def _exchange(make_client) -> tuple[list[str], int]:
    """Two GETs on one kept-alive connection; the server reads the second request and closes
    without answering, as a replica killed at that moment does. Returns what each attempt
    gave, and how many requests the server received."""
    received = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal received
        for _ in range(10):  # bounded
            head = await reader.readuntil(b"\r\n\r\n")
            if not head:
                break
            received += 1
            if received == 2:  # the second request: no answer, the connection closes
                break
            writer.write(ANSWER)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    results = []
    async with server, make_client() as client:
        for _ in range(2):
            try:
                async with client.get(f"http://127.0.0.1:{port}/") as response:
                    results.append(f"{response.status} {await response.text()}")
            except aiohttp.ClientError as exc:
                results.append(type(exc).__name__)
    return results, received


def test_a_dropped_kept_alive_connection_is_a_failure_not_a_silent_retry():
    results, received = asyncio.run(_exchange(lambda: session(aiohttp.DummyCookieJar())))
    assert results == ["200 ok", "ServerDisconnectedError"]
    assert received == 2


def test_aiohttps_default_session_would_hide_it():
    results, received = asyncio.run(_exchange(aiohttp.ClientSession))
    # The default client sends the second GET again on a new connection and reports success:
    # the failure the test above sees would be invisible.
    assert results == ["200 ok", "200 ok"]
    assert received == 3


def test_idle_connections_are_kept_as_long_as_a_browser_keeps_them():
    async def check() -> float:
        client = session(aiohttp.DummyCookieJar())
        try:
            return client.connector._keepalive_timeout
        finally:
            await client.close()

    assert asyncio.run(check()) == KEEPALIVE == 60.0
