"""``LLMJudge``: the semantic reward from an LLM verifier behind any OpenAI-compatible server.

One request per distinct (reference, candidate) pair, with bounded concurrency, a hard
per-request timeout, retries with exponential backoff on 5xx / 429 / timeouts / invalid
output, a SQLite cache, and an explicit failure policy. The async work always runs on a
private event loop in a background thread, which gives three properties at once:

* ``score_batch`` (sync) works from plain code *and* from inside a running event loop
  (a notebook, an async server), where ``asyncio.run`` would fail;
* ``ascore_batch`` can be awaited from any loop, while the HTTP connection pool stays bound
  to the one loop that created it;
* the judge pickles (its state is its constructor arguments), as TRL reward objects must.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import math
import os
import random
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import openai

from .body import RequestBody
from .cache import VerdictCache, cache_key
from .errors import JudgeError
from .loop import LoopThread
from .prompt import PROMPT_VERSION, SCORE_MAX, build_user_content
from .schema import DIALECTS, RAW_LIMIT, parse_axes, parse_completion_body, response_format
from .stats import JudgeStats
from .transport import KeepAliveTransport, httpx_module, usable_for
from .verdict import SemanticVerdict

__all__ = ["LLMJudge"]

_SHARD_SIZE = 16  # concurrent requests per HTTP client (see LLMJudge._ensure_clients)

# Recent openai clients take ready-made bytes as ``post(..., content=...)``; older 1.x ones
# only a JSON-able ``body``, which they encode themselves.
_POST_TAKES_CONTENT = "content" in inspect.signature(openai.AsyncOpenAI.post).parameters

# ``asyncio.timeout`` (3.11+) bounds a request without the extra task ``wait_for`` creates.
_HAS_TIMEOUT_CM = hasattr(asyncio, "timeout")


def _check_sequence(name: str, value: Any) -> Sequence[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a sequence of str, got {type(value).__name__}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise TypeError(f"{name}[{i}] must be a str, got {type(item).__name__}: {item!r}")
    return value


class LLMJudge:
    """Grade candidate reports against references with an LLM (accuracy, relevance,
    completeness, each in [0, 1]); implements ``SemanticScorer``.

    Args:
        base_url: the server's OpenAI-compatible root, e.g. ``http://127.0.0.1:8000/v1``.
        model: the served model name (vLLM's ``--served-model-name``).
        api_key: sent as a bearer token; ``None`` sends ``"EMPTY"`` (vLLM/llama.cpp without
            ``--api-key``). It is never read from the environment implicitly, so a key cannot
            leak to a local server by accident, and never written by ``to_spec()``.
        api_key_env: the name of an environment variable holding the key, read when the
            judge is built (e.g. ``"OPENAI_API_KEY"``); unlike ``api_key`` it is kept in
            ``to_spec()``, so a saved ``RewardConfig`` holds no secret.
        timeout: seconds for one whole request (connect + generate + read).
        max_retries: extra attempts after a retryable failure (0 = one attempt).
        concurrency: requests in flight at most, over all batches of this judge.
        dialect: ``"openai"`` (``response_format`` type ``json_schema``: vLLM >= 0.12,
            OpenAI) or ``"llama_cpp"`` (type ``json_object`` with a ``schema``).
        on_failure: ``"skip"`` (a verdict without scores: the sample's reward is None and
            TRL skips it), a float in [0, 1] (that value on every axis, ``error`` set), or
            ``"raise"`` (``JudgeError``). Only ``"raise"`` ever raises for a bad backend.
        temperature: sampling temperature (0 for reproducible grades).
        max_tokens: reply budget; a reply cut off at it is a ``truncated`` failure.
        cache_path: SQLite file for verdicts that survive restarts; ``None`` keeps the
            cache in memory for this process. ``use_cache=False`` disables it.
        extra_body: extra JSON fields merged last into the request body, e.g. vLLM's
            ``{"chat_template_kwargs": {"enable_thinking": False}}``.
        backoff_base: retry ``k`` waits ``min(backoff_max, backoff_base * 2**(k-1))``
            seconds, scaled by a random factor in [0.5, 1] so retries of a batch do not stampede.
        backoff_max: the longest wait between two retries, in seconds.
        lean_transport: carry requests over the small keep-alive HTTP/1.1 transport of
            ``transport.py`` (about 3x less client CPU per verdict) instead of httpx's default
            stack. ``None`` (default) uses it for plain ``http://`` URLs without a proxy;
            ``False`` always uses the default stack; ``True`` insists (an error if the URL
            cannot use it).

    Examples:
        >>> judge = LLMJudge("http://127.0.0.1:8000/v1", "Qwen/Qwen3-30B-A3B")
        >>> judge.signature().split("|")
        ['llm_judge', 'model:Qwen/Qwen3-30B-A3B', 'prompt:himed-judge-v2', 'dialect:openai',
         'scale:0-10', 'temperature:0.0']
        >>> judge.score_batch([], [])
        []
        >>> judge.close()
    """

    name = "llm_judge"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
        concurrency: int = 64,
        *,
        dialect: str = "openai",
        on_failure: str | float = "skip",
        temperature: float = 0.0,
        max_tokens: int = 512,
        cache_path: str | os.PathLike[str] | None = None,
        use_cache: bool = True,
        extra_body: Mapping[str, Any] | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        api_key_env: str | None = None,
        lean_transport: bool | None = None,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL string, got {base_url!r}")
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"model must be a non-empty str, got {model!r}")
        if api_key is not None and not isinstance(api_key, str):
            raise TypeError(f"api_key must be a str or None, got {type(api_key).__name__}")
        if api_key_env is not None:
            if not isinstance(api_key_env, str) or not api_key_env:
                raise ValueError(f"api_key_env must be a variable name, got {api_key_env!r}")
            if api_key is not None:
                raise ValueError("give api_key or api_key_env, not both")
            if not os.environ.get(api_key_env):
                raise ValueError(f"api_key_env={api_key_env!r}: that variable is not set")
        secret = os.environ[api_key_env] if api_key_env is not None else api_key
        _positive("timeout", timeout)
        _positive("backoff_base", backoff_base, allow_zero=True)
        _positive("backoff_max", backoff_max, allow_zero=True)
        _positive("temperature", temperature, allow_zero=True)
        _count("max_retries", max_retries, minimum=0)
        _count("concurrency", concurrency, minimum=1)
        _count("max_tokens", max_tokens, minimum=1)
        if dialect not in DIALECTS:
            raise ValueError(f"dialect must be one of {DIALECTS}, got {dialect!r}")
        if isinstance(on_failure, str):
            if on_failure not in ("skip", "raise"):
                raise ValueError(
                    f"on_failure must be 'skip', 'raise' or a float in [0, 1], got {on_failure!r}"
                )
        elif (
            isinstance(on_failure, bool)
            or not isinstance(on_failure, (int, float))
            or not (math.isfinite(on_failure) and 0.0 <= on_failure <= 1.0)
        ):
            raise ValueError(
                f"on_failure must be 'skip', 'raise' or a float in [0, 1], got {on_failure!r}"
            )
        if extra_body is not None and not isinstance(extra_body, Mapping):
            raise TypeError(f"extra_body must be a mapping or None, got {extra_body!r}")
        if not isinstance(use_cache, bool):
            raise TypeError(f"use_cache must be a bool, got {use_cache!r}")

        self._init_kwargs: dict[str, Any] = dict(
            base_url=base_url, model=model, api_key=api_key, timeout=timeout,
            max_retries=max_retries, concurrency=concurrency, dialect=dialect,
            on_failure=on_failure, temperature=temperature, max_tokens=max_tokens,
            cache_path=None if cache_path is None else os.fspath(cache_path),
            use_cache=use_cache, extra_body=None if extra_body is None else dict(extra_body),
            backoff_base=backoff_base, backoff_max=backoff_max, api_key_env=api_key_env,
            lean_transport=lean_transport,
        )  # fmt: skip
        self.base_url = base_url
        self.model = model
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.dialect = dialect
        self.on_failure = on_failure
        self.temperature = float(temperature)
        self.max_tokens = max_tokens
        self.extra_body = None if extra_body is None else dict(extra_body)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.prompt_version = PROMPT_VERSION
        self.stats = JudgeStats()
        self._api_key = secret or "EMPTY"
        self._response_format = response_format(dialect)
        self._body = RequestBody(
            model, self._response_format, self.temperature, max_tokens, self.extra_body
        )
        if lean_transport is not None and not isinstance(lean_transport, bool):
            raise TypeError(f"lean_transport must be a bool or None, got {lean_transport!r}")
        if lean_transport and not usable_for(base_url):
            raise ValueError(
                f"lean_transport=True needs a plain http:// URL without a proxy, got {base_url!r}"
            )
        self._lean_transport = usable_for(base_url) if lean_transport is None else lean_transport
        self._signature = self._make_signature()
        self._cache = VerdictCache(cache_path) if use_cache else None
        self._start_lock = threading.Lock()
        self._runner: LoopThread | None = None
        self._pid = os.getpid()
        self._clients: list[openai.AsyncOpenAI] = []
        self._slots: asyncio.Queue[int] | None = None

    # -- identity -------------------------------------------------------------------------

    def _make_signature(self) -> str:
        parts = [
            self.name,
            f"model:{self.model}",
            f"prompt:{PROMPT_VERSION}",
            f"dialect:{self.dialect}",
            f"scale:0-{SCORE_MAX}",
            f"temperature:{self.temperature}",
        ]
        if self.extra_body:
            blob = json.dumps(self.extra_body, sort_keys=True, separators=(",", ":"))
            parts.append(f"extra:{hashlib.sha256(blob.encode()).hexdigest()[:12]}")
        return "|".join(parts)

    def signature(self) -> str:
        """Everything that can change a number: model, prompt version, dialect, scale,
        temperature and a hash of ``extra_body``. Also the cache namespace and each
        verdict's ``source``."""
        return self._signature

    def __repr__(self) -> str:
        return f"LLMJudge(base_url={self.base_url!r}, {self._signature!r})"

    def to_spec(self) -> dict[str, Any]:
        """The JSON-ready form that ``RewardConfig`` saves: ``{"kind": "llm", ...}`` with
        every constructor argument except a literal ``api_key`` (secrets stay out of files).

        Example:
            >>> with LLMJudge("http://127.0.0.1:8000/v1", "m", timeout=5.0) as judge:
            ...     spec = judge.to_spec()
            >>> spec["kind"], spec["timeout"], "api_key" in spec
            ('llm', 5.0, False)
        """
        spec = {k: v for k, v in self._init_kwargs.items() if k != "api_key"}
        if self._init_kwargs["api_key_env"] is None:
            spec.pop("api_key_env")
        return {"kind": "llm", **spec}

    # -- pickling: a judge is its configuration; the loop, client and cache are rebuilt ---

    def __getstate__(self) -> dict[str, Any]:
        return dict(self._init_kwargs)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    # -- public API ------------------------------------------------------------------------

    def score_batch(
        self, candidates: Sequence[str], references: Sequence[str]
    ) -> list[SemanticVerdict]:
        """Grade ``candidates[i]`` against ``references[i]``; one verdict per pair, in order.

        Blocks until done; safe to call from inside a running event loop. Raises only for
        bad arguments, or with ``on_failure="raise"``.
        """
        self._check_pairs(candidates, references)
        if not candidates:
            return []
        runner = self._ensure_runner()
        if threading.current_thread() is runner.thread:
            raise RuntimeError("score_batch cannot be called from the judge's own event loop")
        return runner.submit(self._grade_all(candidates, references)).result()

    async def ascore_batch(
        self, candidates: Sequence[str], references: Sequence[str]
    ) -> list[SemanticVerdict]:
        """The awaitable form of ``score_batch``; usable from any event loop."""
        self._check_pairs(candidates, references)
        if not candidates:
            return []
        future = self._ensure_runner().submit(self._grade_all(candidates, references))
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Close the HTTP client, stop the background loop and close the cache."""
        with self._start_lock:
            runner, self._runner = self._runner, None
        if runner is not None and self._pid == os.getpid():  # a forked child owns no thread
            for client in self._clients:
                runner.submit(client.close()).result(timeout=10)
            runner.stop()
        self._clients = []
        self._slots = None
        if self._cache is not None:
            self._cache.close()

    def __enter__(self) -> LLMJudge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------

    @staticmethod
    def _check_pairs(candidates: Sequence[str], references: Sequence[str]) -> None:
        _check_sequence("candidates", candidates)
        _check_sequence("references", references)
        if len(candidates) != len(references):
            raise ValueError(
                f"candidates and references must have the same length, "
                f"got {len(candidates)} and {len(references)}"
            )

    def _ensure_runner(self) -> LoopThread:
        with self._start_lock:
            if self._runner is not None and self._pid != os.getpid():
                # A forked child (a DataLoader worker, a forked trainer) inherits the loop
                # object but not its thread, and must not share the parent's sockets or
                # SQLite connection: start afresh.
                self._runner, self._clients, self._slots = None, [], None
                if self._cache is not None:
                    self._cache = VerdictCache(self._init_kwargs["cache_path"])
            if self._runner is None:
                self._runner = LoopThread()
                self._pid = os.getpid()
            return self._runner

    def _ensure_clients(self) -> tuple[list[openai.AsyncOpenAI], asyncio.Queue[int]]:
        """The HTTP clients and the queue of free request slots, created on the private loop
        (so their connection pools belong to it).

        Why several clients: httpcore scans every pooled connection on each request, so
        one pool of 64+ keep-alive connections costs O(concurrency) per request and capped
        the client near 800 verdicts/s. Each client here carries at most ``_SHARD_SIZE``
        requests at a time (so at most that many connections); a slot is a client index,
        and the queue's length bounds the total concurrency exactly.
        """
        if self._slots is None:
            if self._lean_transport:
                # One client over the lean keep-alive transport (see transport.py): its idle
                # stack is O(1) per request whatever the pool size, so no sharding is needed.
                httpx = httpx_module()
                http_client = httpx.AsyncClient(
                    transport=KeepAliveTransport(max_idle=self.concurrency),
                    timeout=self.timeout,
                )
                self._clients = [self._make_client(http_client)]
            else:
                shards = -(-self.concurrency // _SHARD_SIZE)
                self._clients = [self._make_client(None) for _ in range(shards)]
            slots: asyncio.Queue[int] = asyncio.Queue()
            for slot in range(self.concurrency):
                slots.put_nowait(slot % len(self._clients))
            self._slots = slots
        return self._clients, self._slots

    def _make_client(self, http_client: Any) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=self._api_key,
            timeout=self.timeout,
            max_retries=0,  # retries are ours: they also cover invalid output
            http_client=http_client,
        )

    async def _post(self, client: openai.AsyncOpenAI, user: str) -> bytes:
        # ``client.post`` is the openai client's documented raw path: the typed
        # ``chat.completions.create`` re-walks the whole JSON schema through its TypedDict
        # transformer on every call and parses the reply into pydantic models; we validate
        # the reply with our own checks anyway. The body bytes come from a template built
        # once per judge (see body.py).
        if _POST_TAKES_CONTENT:
            call = client.post(
                "/chat/completions", cast_to=bytes, content=self._body.encode(user)
            )
        else:  # pragma: no cover - openai < 1.5x
            call = client.post("/chat/completions", cast_to=bytes, body=self._body.fields(user))
        if _HAS_TIMEOUT_CM:
            async with asyncio.timeout(self.timeout):
                return await call
        return await asyncio.wait_for(call, timeout=self.timeout)  # pragma: no cover

    def _ok_verdict(self, axes: tuple[float, float, float]) -> SemanticVerdict:
        return SemanticVerdict(axes[0], axes[1], axes[2], source=self._signature)

    def _failed_verdict(self, err: JudgeError) -> SemanticVerdict:
        if self.on_failure == "skip" or self.on_failure == "raise":
            return SemanticVerdict.failed(str(err), source=self._signature)
        value = float(self.on_failure)
        return SemanticVerdict(value, value, value, error=str(err), source=self._signature)

    async def _grade_all(
        self, candidates: Sequence[str], references: Sequence[str]
    ) -> list[SemanticVerdict]:
        keys = [
            cache_key(self._signature, r, c) for c, r in zip(candidates, references, strict=True)
        ]
        cached = self._cache.get_many(keys) if self._cache is not None else {}
        results: list[SemanticVerdict | None] = [None] * len(keys)
        pending: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            if key in cached:
                results[i] = self._ok_verdict(cached[key])
            else:
                pending.setdefault(key, []).append(i)
        hits = len(keys) - sum(len(ix) for ix in pending.values())
        self.stats.add(cache_hits=hits, deduplicated=sum(len(ix) - 1 for ix in pending.values()))

        outcomes = await asyncio.gather(
            *(self._grade_one(candidates[ix[0]], references[ix[0]]) for ix in pending.values())
        )
        to_store = []
        first_error: JudgeError | None = None
        for (key, indices), outcome in zip(pending.items(), outcomes, strict=True):
            if isinstance(outcome, JudgeError):
                verdict = self._failed_verdict(outcome)
                self.stats.fail(outcome.reason, len(indices))
                first_error = first_error or outcome
            else:
                axes, raw = outcome
                verdict = self._ok_verdict(axes)
                to_store.append((key, axes, raw))
            for i in indices:
                results[i] = verdict
        if self._cache is not None:
            self._cache.put_many(to_store)  # successes are kept even if we raise below
        self.stats.add(verdicts=len(keys))
        if first_error is not None and self.on_failure == "raise":
            raise first_error
        return results  # type: ignore[return-value]

    def _backoff(self, retry: int) -> float:
        delay = min(self.backoff_max, self.backoff_base * 2 ** (retry - 1))
        return delay * (0.5 + 0.5 * random.random())

    async def _grade_one(
        self, candidate: str, reference: str
    ) -> tuple[tuple[float, float, float], str] | JudgeError:
        """Axes and raw reply, or the last ``JudgeError`` after all attempts."""
        clients, slots = self._ensure_clients()
        user = build_user_content(candidate, reference)
        attempts = self.max_retries + 1
        last: JudgeError | None = None
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                self.stats.add(retries=1)
                await asyncio.sleep(self._backoff(attempt - 1))
            try:
                shard = await slots.get()
                try:
                    self.stats.add(requests=1)
                    body = await self._post(clients[shard], user)
                finally:
                    slots.put_nowait(shard)
                content, finish = parse_completion_body(body)
                return parse_axes(content, finish), content or ""
            except JudgeError as exc:
                raw = None if exc.last_raw is None else exc.last_raw[:RAW_LIMIT]
                last = JudgeError(exc.reason, exc.detail, attempts=attempt, last_raw=raw)
            except (asyncio.TimeoutError, openai.APITimeoutError):
                last = JudgeError("timeout", f"no reply within {self.timeout} s", attempts=attempt)
            except openai.APIStatusError as exc:
                last = _status_error(exc, attempt)
                if last.reason == "http_4xx":
                    return last  # the same request would be rejected again
            except openai.APIConnectionError as exc:
                last = JudgeError("connection", _one_line(exc), attempts=attempt)
        assert last is not None  # at least one attempt ran
        return last


def _status_error(exc: openai.APIStatusError, attempt: int) -> JudgeError:
    code = exc.status_code
    try:
        body = exc.response.text[:RAW_LIMIT]
    except Exception:  # a streamed or closed body: the status code is what matters
        body = None
    reason = "http_5xx" if code >= 500 else "http_429" if code == 429 else "http_4xx"
    return JudgeError(reason, f"HTTP {code}", attempts=attempt, last_raw=body)


def _one_line(value: object) -> str:
    text = " ".join(str(value).split())
    return text[:200]


def _positive(name: str, value: Any, *, allow_zero: bool = False) -> None:
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
        and (value >= 0 if allow_zero else value > 0)
    )
    if not ok:
        allowed = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def _count(name: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
