"""The reward HTTP server: FastAPI app factory.

Endpoints: ``POST /get_reward`` (OpenRLHF), ``POST /score`` (slime), ``POST /v1/score_batch``
(ours, full breakdowns), ``GET /health``, ``GET /metrics`` (Prometheus text); the OpenAPI
spec and its browser views (``/openapi.json``, ``/docs``, ``/redoc``) only with
``docs=True``. With a token configured every endpoint but ``/health`` needs
``Authorization: Bearer <token>``, checked before the body is read. Bodies over
``max_body_bytes`` get 413, bodies not received within ``body_timeout`` 408, requests with
more than ``max_batch`` pairs 413 (counted before validation), malformed ones 422 (NaN and
Infinity included, at most ``MAX_ERRORS_SHOWN`` errors listed), requests that would queue more
than ``max_queued_pairs`` pairs 503 with ``Retry-After``, requests slower than
``request_timeout`` 504; a request whose client disconnects is dropped before scoring. A pair with no reward (judge failed, policy "skip") follows the
``missing`` policy on the two framework endpoints, which need a number per pair: ``"impute"``
(default) answers 200 with the imputed value (see ``himed_rewards.integrations._common``),
flagged in ``extra_logs["semantic_imputed"]`` (``/get_reward``) or the
``X-Himed-Semantic-Imputed`` header (``/score``); ``"raise"`` answers 503. Concurrent requests are micro-batched
(:mod:`himed_rewards.server.batcher`); on shutdown queued work is finished first.

FastAPI is imported when an app is created, so ``import himed_rewards`` needs no server extra.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from himed_rewards.integrations._common import (
    MissingRewardError,
    resolve_config,
    resolve_missing,
    resolve_rewards,
)
from himed_rewards.integrations.openrlhf import collect_extra_logs, extract_response
from himed_rewards.server.batcher import BatcherClosedError, BatcherFullError, MicroBatcher
from himed_rewards.server.metrics import ServerMetrics
from himed_rewards.server.middleware import BearerAuth, BodySizeLimit, RequestMetrics
from himed_rewards.server.schemas import (
    ErrorResponse,
    GetRewardRequest,
    GetRewardResponse,
    HealthResponse,
    ScoreBatchRequest,
    ScoreBatchResponse,
    SlimeScoreRequest,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

    from himed_rewards import RewardConfig

__all__ = ["create_app", "require_server_extra", "KNOWN_PATHS"]

KNOWN_PATHS = ("/get_reward", "/score", "/v1/score_batch", "/health", "/metrics")
DEFAULT_MAX_BATCH = 4096
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_REQUEST_TIMEOUT = 120.0
DEFAULT_BODY_TIMEOUT = 30.0
MAX_ERRORS_SHOWN = 20  # validation errors listed in a 422; the rest are counted
RETRY_AFTER_S = 1  # what a shed request is told to wait
_DOC_PATHS = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")


def require_server_extra() -> None:
    """Raise a clear ImportError when FastAPI/uvicorn (the ``server`` extra) are missing."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"the reward server needs FastAPI and uvicorn ({exc.name} is missing): "
            "pip install 'himed-rewards[server]'"
        ) from exc


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "body could not be parsed (not UTF-8 JSON)",
        401: "missing or wrong bearer token",
        408: "the body did not arrive within the body timeout",
        413: "body or batch larger than the server limits",
        422: "malformed request (NaN and Infinity included)",
        503: "at capacity (see Retry-After), shutting down, or a pair has no reward "
        "(judge failed) and missing='raise'",
        504: "scoring took longer than the request timeout",
    }
    # Spelled out as JSON so routes whose success is text (/metrics) document errors right.
    schema = ErrorResponse.model_json_schema()
    return {
        code: {"description": text[code], "content": {"application/json": {"schema": schema}}}
        for code in codes
    }


def create_app(
    config: RewardConfig | str | None = None,
    *,
    token: str | None = None,
    max_batch: int = DEFAULT_MAX_BATCH,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    batch_wait_ms: float = 5.0,
    default_step: int = 0,
    missing: str | None = None,
    docs: bool = False,
    max_queued_pairs: int | None = None,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
) -> FastAPI:
    """Build the reward server app (run it with uvicorn, or test it in process).

    ``docs=True`` serves ``/openapi.json``, ``/docs`` and ``/redoc`` (behind the token when
    there is one); ``app.openapi()`` gives the spec either way. ``max_queued_pairs`` (default
    ``4 * max_batch``) bounds the pairs waiting or being scored; ``body_timeout`` bounds the
    seconds a client may take to send its body.

    Examples:
        >>> app = create_app(max_batch=8)
        >>> sorted(r.path for r in app.routes if r.path in KNOWN_PATHS)
        ['/get_reward', '/health', '/metrics', '/score', '/v1/score_batch']
    """
    require_server_extra()
    from fastapi import Depends, FastAPI, HTTPException, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, PlainTextResponse
    from fastapi.routing import APIRoute
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

    for name, value, low in (
        ("max_batch", max_batch, 1),
        ("max_body_bytes", max_body_bytes, 1),
        ("default_step", default_step, 0),
        ("max_queued_pairs", 4 * max_batch if max_queued_pairs is None else max_queued_pairs, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if not 0 <= batch_wait_ms <= 1000:
        raise ValueError(f"batch_wait_ms must be in [0, 1000], got {batch_wait_ms!r}")
    if not request_timeout > 0:
        raise ValueError(f"request_timeout must be > 0 seconds, got {request_timeout!r}")
    if not (isinstance(body_timeout, (int, float)) and 0 < body_timeout < math.inf):
        raise ValueError(f"body_timeout must be > 0 seconds, got {body_timeout!r}")
    if not isinstance(docs, bool):
        raise TypeError(f"docs must be a bool, got {docs!r}")
    if token is not None and (not isinstance(token, str) or not token):
        raise ValueError("token must be a non-empty string or None")

    resolved = resolve_config(config)
    missing_policy = resolve_missing(missing)  # keyword, else $HIMED_REWARDS_MISSING, else impute
    metrics = ServerMetrics()

    def on_batch(pairs: int, breakdowns: Any) -> None:
        failures = sum(1 for b in breakdowns if getattr(b, "semantic_error", None))
        metrics.observe_batch(pairs=pairs, judge_failures=failures)

    batcher = MicroBatcher(
        resolved,
        max_pairs=max_batch,
        max_wait_s=batch_wait_ms / 1000.0,
        on_batch=on_batch,
        in_flight=lambda: metrics.in_flight,
        max_queued_pairs=max_queued_pairs,
    )
    # What /health reports: the config's judge, or the default config's (offline) one.
    semantic = getattr(resolved if resolved is not None else _default_config(), "semantic", None)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        try:
            yield
        finally:
            await batcher.close(timeout=request_timeout)

    app = FastAPI(
        title="himed-rewards reward server",
        version=_version(),
        description="HiMed-RL rewards over HTTP for OpenRLHF, slime and any client.",
        lifespan=lifespan,
        openapi_url="/openapi.json" if docs else None,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
    )
    app.state.metrics = metrics
    app.state.batcher = batcher
    app.router.route_class = _strict_json_route(APIRoute, HTTPException, max_batch)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes, read_timeout=body_timeout)
    if token is not None:  # headers only: an unauthenticated body is never read or parsed
        app.add_middleware(BearerAuth, token=token, open_paths=("/health",))
    app.add_middleware(RequestMetrics, metrics=metrics, known_paths=KNOWN_PATHS)  # outermost

    bearer = HTTPBearer(auto_error=False)

    async def check_token(
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> None:
        if credentials is None or not hmac.compare_digest(
            credentials.credentials.encode(),
            token.encode(),  # type: ignore[union-attr]
        ):
            raise HTTPException(
                401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"}
            )

    guarded = [Depends(check_token)] if token is not None else []  # also documents the scheme
    errors = (400, 408, 413, 422, 503, 504)
    errors = (*errors[:1], 401, *errors[1:]) if token is not None else errors

    async def score(
        request: Request, completions: list[str], references: list[str], step: int | None
    ) -> list[Any]:
        if len(completions) != len(references):
            raise HTTPException(
                422,
                f"got {len(completions)} completions but {len(references)} references; "
                "they must be aligned",
            )
        if len(completions) > max_batch:
            raise HTTPException(
                413, f"{len(completions)} pairs is more than the server's max_batch={max_batch}"
            )
        job = asyncio.ensure_future(
            batcher.submit(completions, references, default_step if step is None else step)
        )
        gone = asyncio.ensure_future(_client_gone(request))
        try:
            done, _ = await asyncio.wait(
                (job, gone), timeout=request_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            gone.cancel()
            if not job.done():
                job.cancel()  # timed out or client gone: its pairs leave the queue unscored
        if job not in done:
            if gone in done and not gone.cancelled() and gone.exception() is None:
                # Nobody is listening; 499 (nginx's "client closed request") is for metrics.
                raise HTTPException(499, "client closed the request before it was scored")
            raise HTTPException(504, f"scoring took longer than {request_timeout} s")
        try:
            return job.result()
        except BatcherFullError as exc:
            raise HTTPException(503, str(exc), {"Retry-After": str(RETRY_AFTER_S)}) from None
        except BatcherClosedError as exc:
            raise HTTPException(503, str(exc)) from None
        except (ValueError, TypeError) as exc:
            raise HTTPException(422, str(exc)) from None

    def totals(breakdowns: list[Any], references: list[str]) -> list[Any]:
        try:
            return resolve_rewards(breakdowns, references, missing=missing_policy)
        except MissingRewardError as exc:
            raise HTTPException(503, str(exc)) from None

    post = functools.partial(app.post, dependencies=guarded, responses=_responses(*errors))

    def takes_request(endpoint: Any) -> Any:
        # Postponed annotations are strings that FastAPI resolves in this module's globals,
        # where Request (imported above, lazily) is not: hand it the class itself.
        endpoint.__annotations__["request"] = Request
        return endpoint

    @post(
        "/get_reward",
        response_model=GetRewardResponse,
        summary="OpenRLHF remote reward (--reward.remote_url http://host:port/get_reward)",
    )
    @takes_request
    async def get_reward(body: GetRewardRequest, request: Request) -> GetRewardResponse:
        if body.prompts is not None and len(body.prompts) != len(body.query):
            raise HTTPException(
                422, f"got {len(body.query)} queries but {len(body.prompts)} prompts"
            )
        prompts = body.prompts if body.prompts is not None else [""] * len(body.query)
        if len(body.query) > max_batch:
            raise HTTPException(
                413, f"{len(body.query)} queries is more than max_batch={max_batch}"
            )
        try:
            responses = [extract_response(q, p) for q, p in zip(body.query, prompts, strict=True)]
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        resolved = totals(await score(request, responses, body.labels, body.step), body.labels)
        rewards = [r.total for r in resolved]
        return GetRewardResponse(
            rewards=rewards, scores=list(rewards), extra_logs=collect_extra_logs(resolved)
        )

    @post(
        "/score",
        response_model=float,
        summary="slime remote reward (--rm-type remote_rm --rm-url http://host:port/score)",
    )
    @takes_request
    async def score_one(body: SlimeScoreRequest, request: Request) -> Any:
        scored = await score(request, [body.response], [body.label], body.step)
        (value,) = totals(scored, [body.label])
        if value.imputed:  # the body is a bare float (slime's protocol): flag in headers
            error = " ".join(str(value.error).split())[:200].encode("ascii", "replace").decode()
            headers = {"X-Himed-Semantic-Imputed": "1", "X-Himed-Semantic-Error": error}
            return JSONResponse(value.total, headers=headers)
        return value.total

    @post(
        "/v1/score_batch",
        response_model=ScoreBatchResponse,
        summary="Score aligned completions and references; full reward breakdowns",
    )
    @takes_request
    async def score_batch(body: ScoreBatchRequest, request: Request) -> ScoreBatchResponse:
        step = default_step if body.step is None else body.step
        breakdowns = await score(request, body.completions, body.references, step)
        return ScoreBatchResponse(
            step=step,
            totals=[b.total for b in breakdowns],
            breakdowns=[b.to_dict() for b in breakdowns],
        )

    @app.get("/health", response_model=HealthResponse, summary="Liveness and settings")
    async def health() -> HealthResponse:
        return HealthResponse(
            status="ok",
            version=_version(),
            semantic_judge=semantic is not None,
            semantic_scorer=None if semantic is None else str(getattr(semantic, "name", "?")),
            max_batch=max_batch,
        )

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        response_model=None,
        dependencies=guarded,
        responses=_responses(401) if token is not None else None,
        summary="Prometheus metrics (text exposition format 0.0.4)",
    )
    async def prometheus() -> PlainTextResponse:
        metrics.queued_pairs = batcher.queued_pairs
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.exception_handler(MissingRewardError)
    async def missing_reward(_: Request, exc: MissingRewardError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": compact_errors(exc.errors())}, status_code=422)

    return app


def compact_errors(errors: Any, limit: int = MAX_ERRORS_SHOWN) -> list[dict[str, Any]]:
    """Validation errors as a 422 lists them: at most ``limit``, each ``{loc, msg, type}``
    with short strings and never the offending input (which may be huge, or NaN, which
    JSON cannot carry); a last entry counts the rest.

    Examples:
        >>> errs = [{"loc": ("body", "completions", i), "msg": "Input should be a valid string",
        ...          "type": "string_type", "input": float("nan")} for i in range(3)]
        >>> compact_errors(errs, limit=2)[1]
        {'loc': ['body', 'completions', 1], 'msg': 'Input should be a valid string', 'type': 'string_type'}
        >>> compact_errors(errs, limit=2)[-1]["msg"]
        '1 more errors not shown'
    """
    errors = list(errors)
    shown = []
    for error in errors[:limit]:
        loc = [
            part if isinstance(part, int) else str(part)[:64] for part in error.get("loc", ())[:8]
        ]
        shown.append(
            {"loc": loc, "msg": str(error.get("msg", ""))[:300], "type": str(error.get("type"))[:64]}
        )
    if len(errors) > limit:
        more = len(errors) - limit
        shown.append({"loc": [], "msg": f"{more} more errors not shown", "type": "truncated"})
    return shown


async def _client_gone(request: Any) -> None:
    """Return when the client disconnects (the body is already read, so the next ASGI
    message can only be ``http.disconnect``)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON (numbers must be finite)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses to inf
        raise ValueError(f"{text[:40]} is not a finite number")
    return value


def _strict_json_route(route_base: Any, http_exception: Any, max_items: int) -> Any:
    """An ``APIRoute`` whose JSON body parser refuses NaN/Infinity (422) and any top-level
    list longer than ``max_items`` (413), before pydantic validates a single item: a huge
    list of wrong-typed items would otherwise build one error per item on the event loop."""
    from starlette.requests import Request as StarletteRequest

    class StrictJSONRequest(StarletteRequest):
        async def json(self) -> Any:
            if not hasattr(self, "_json"):
                body = await self.body()
                try:
                    parsed = json.loads(
                        body, parse_constant=_reject_constant, parse_float=_finite_float
                    )
                except ValueError as exc:
                    if isinstance(exc, json.JSONDecodeError):
                        raise  # FastAPI answers it with its usual 422 json_invalid
                    raise http_exception(422, f"invalid JSON: {exc}") from None
                if isinstance(parsed, dict):
                    for key, value in parsed.items():
                        if isinstance(value, list) and len(value) > max_items:
                            raise http_exception(
                                413,
                                f"{str(key)[:64]} has {len(value)} items, more than the "
                                f"server's max_batch={max_items}",
                            )
                self._json = parsed
            return self._json

    class StrictJSONRoute(route_base):
        def get_route_handler(self) -> Any:
            handler = super().get_route_handler()

            async def strict_handler(request: Any) -> Any:
                return await handler(StrictJSONRequest(request.scope, request.receive))

            return strict_handler

    return StrictJSONRoute


def _default_config() -> Any:
    import himed_rewards as hr

    return hr.RewardConfig()


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("himed-rewards")
    except Exception:  # not installed (running from a checkout)
        return "0+unknown"
