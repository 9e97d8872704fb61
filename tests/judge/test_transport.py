"""The lean keep-alive transport under the openai client: framing, keep-alive, errors."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest

from himed_rewards.judge.transport import KeepAliveTransport, httpx_module, usable_for

BODY = json.dumps({"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]})


def _length_reply(body: str = BODY, extra: str = "") -> bytes:
    data = body.encode()
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{extra}"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode() + data


def _chunked_reply(body: str = BODY) -> bytes:
    data = body.encode()
    half = len(data) // 2
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (data[:half], data[half:]))
    return (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\nX-T: 1\r\n\r\n"
    )


async def _serve(replies: list[bytes], *, close_after: int | None = None, split: bool = False):
    """A scripted server: one reply per request (read up to its Content-Length), then
    optionally closes the connection after ``close_after`` requests on it."""
    seen: dict[str, int] = {"connections": 0, "requests": 0}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen["connections"] += 1
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                reply = replies[min(seen["requests"], len(replies) - 1)]
                seen["requests"] += 1
                if split:  # byte by byte: every parser state must wait for more data
                    for i in range(len(reply)):
                        writer.write(reply[i : i + 1])
                        await writer.drain()
                else:
                    writer.write(reply)
                served += 1
                if close_after is not None and served >= close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/v1", seen


def _client(url: str, transport: KeepAliveTransport) -> openai.AsyncOpenAI:
    http_client = httpx_module().AsyncClient(transport=transport)
    return openai.AsyncOpenAI(base_url=url, api_key="k", max_retries=0, http_client=http_client)


async def _post(client: openai.AsyncOpenAI) -> dict:
    raw = await asyncio.wait_for(client.post("/chat/completions", cast_to=bytes, body={}), 5)
    return json.loads(raw)


@pytest.mark.parametrize(
    "reply, split",
    [(_length_reply(), False), (_chunked_reply(), False), (_chunked_reply(), True)],
    ids=["content-length", "chunked", "chunked-bytewise"],
)
def test_framings_are_read_and_the_connection_is_reused(reply, split):
    async def main():
        server, url, seen = await _serve([reply], split=split)
        async with server:
            transport = KeepAliveTransport(max_idle=2)
            client = _client(url, transport)
            for _ in range(3):
                assert (await _post(client))["choices"][0]["message"]["content"] == "hi"
            await client.close()
        return seen

    seen = asyncio.run(main())
    assert seen == {"connections": 1, "requests": 3}


def test_connection_close_and_http10_replies_are_not_reused():
    close = _length_reply(extra="Connection: close\r\n")
    http10 = b"HTTP/1.0 200 OK\r\n\r\n" + BODY.encode()  # no length: the body ends at close

    async def main():
        server, url, seen = await _serve([close, http10, _length_reply()], close_after=1)
        async with server:
            client = _client(url, KeepAliveTransport())
            results = [await _post(client) for _ in range(3)]
            await client.close()
        return results, seen

    results, seen = asyncio.run(main())
    assert all(r["choices"][0]["finish_reason"] == "stop" for r in results)
    assert seen["connections"] == 3


def test_an_idle_connection_closed_by_the_server_is_replaced_transparently():
    async def main():
        server, url, seen = await _serve([_length_reply()], close_after=1)
        async with server:
            client = _client(url, KeepAliveTransport())
            first = await _post(client)
            await asyncio.sleep(0.05)  # the server has closed the kept-alive connection
            second = await _post(client)
            await client.close()
        return first, second, seen

    first, second, seen = asyncio.run(main())
    assert first == second and seen == {"connections": 2, "requests": 2}


@pytest.mark.parametrize(
    "reply",
    [b"garbage\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: x1\r\n\r\n"],
    ids=["status-line", "content-length"],
)
def test_malformed_replies_become_connection_errors(reply):
    async def main():
        server, url, _ = await _serve([reply])
        async with server:
            client = _client(url, KeepAliveTransport())
            with pytest.raises(openai.APIConnectionError):
                await _post(client)
            await client.close()

    asyncio.run(main())


def test_a_refused_connection_is_a_connection_error():
    async def main():
        server, url, _ = await _serve([_length_reply()])
        server.close()
        await server.wait_closed()
        client = _client(url, KeepAliveTransport())
        with pytest.raises(openai.APIConnectionError):
            await _post(client)
        await client.close()

    asyncio.run(main())


def test_status_errors_keep_the_openai_mapping():
    reply = _length_reply('{"error": {"message": "overloaded"}}').replace(b"200 OK", b"503 No")

    async def main():
        server, url, _ = await _serve([reply])
        async with server:
            client = _client(url, KeepAliveTransport())
            with pytest.raises(openai.APIStatusError) as info:
                await _post(client)
            await client.close()
        return info.value.status_code

    assert asyncio.run(main()) == 503


def test_usable_only_for_plain_http_without_proxy(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert usable_for("http://127.0.0.1:8000/v1")
    assert not usable_for("https://api.example.org/v1")
    monkeypatch.setenv("http_proxy", "http://proxy.invalid:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    assert not usable_for("http://judge.internal:8000/v1")
    monkeypatch.setenv("no_proxy", "judge.internal")
    monkeypatch.setenv("NO_PROXY", "judge.internal")
    assert usable_for("http://judge.internal:8000/v1")


def test_max_idle_is_validated():
    with pytest.raises(ValueError, match="max_idle"):
        KeepAliveTransport(max_idle=0)


def test_judge_sends_the_same_requests_over_both_stacks(llm_server):
    from himed_rewards.judge import LLMJudge

    pairs = (["No effusion.", "Clear lungs."], ["Small effusion.", "Clear lungs."])
    verdicts = []
    for lean in (True, False):
        with LLMJudge(llm_server.url, "m", timeout=5.0, use_cache=False) as judge:
            assert judge._lean_transport  # plain http to 127.0.0.1, no proxy
            judge._lean_transport = lean  # before the first request builds the clients
            verdicts.append(judge.score_batch(*pairs))
    assert verdicts[0] == verdicts[1] and all(v.ok for v in verdicts[0])
    lean_requests, default_requests = llm_server.requests[:2], llm_server.requests[2:]
    key = lambda r: r["messages"][1]["content"]  # noqa: E731 - order within a batch may vary
    assert sorted(lean_requests, key=key) == sorted(default_requests, key=key)
    lean_headers, default_headers = llm_server.headers[0], llm_server.headers[2]
    assert lean_headers["authorization"] == default_headers["authorization"] == "Bearer EMPTY"
    assert lean_headers["content-type"] == default_headers["content-type"]


def test_lean_transport_can_be_switched_off_and_is_validated():
    import pytest

    from himed_rewards.judge import LLMJudge

    assert LLMJudge("http://127.0.0.1:9/v1", "m", lean_transport=False)._lean_transport is False
    with pytest.raises(ValueError, match="lean_transport=True needs a plain http"):
        LLMJudge("https://example.invalid/v1", "m", lean_transport=True)
    with pytest.raises(TypeError, match="lean_transport must be a bool or None"):
        LLMJudge("http://127.0.0.1:9/v1", "m", lean_transport="yes")
