"""The reward HTTP server: FastAPI app factory.

Endpoints: ``POST /get_reward`` (OpenRLHF), ``POST /score`` (slime), ``POST /v1/score_batch``
(ours, full breakdowns), ``GET /health``, ``GET /metrics`` (Prometheus text); the OpenAPI
spec is at ``/openapi.json``. With a token configured every endpoint but ``/health`` needs
``Authorization: Bearer <token>``. Bodies over ``max_body_bytes`` get 413, requests with more
than ``max_batch`` pairs get 413, malformed ones 422, requests slower than
``request_timeout`` 504. A pair with no reward (judge failed, policy "skip") follows the
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
from himed_rewards.server.batcher import BatcherClosedError, MicroBatcher
from himed_rewards.server.metrics import ServerMetrics
from himed_rewards.server.middleware import BodySizeLimit, RequestMetrics
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
        413: "body or batch larger than the server limits",
        422: "malformed request",
        503: "shutting down, or a pair has no reward (judge failed) and missing='raise'",
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
) -> FastAPI:
    """Build the reward server app (run it with uvicorn, or test it in process).

    Examples:
        >>> app = create_app(max_batch=8)
        >>> sorted(r.path for r in app.routes if r.path in KNOWN_PATHS)
        ['/get_reward', '/health', '/metrics', '/score', '/v1/score_batch']
    """
    require_server_extra()
    from fastapi import Depends, FastAPI, HTTPException, Request
    from fastapi.responses import JSONResponse, PlainTextResponse
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

    for name, value, low in (
        ("max_batch", max_batch, 1),
        ("max_body_bytes", max_body_bytes, 1),
        ("default_step", default_step, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if not 0 <= batch_wait_ms <= 1000:
        raise ValueError(f"batch_wait_ms must be in [0, 1000], got {batch_wait_ms!r}")
    if not request_timeout > 0:
        raise ValueError(f"request_timeout must be > 0 seconds, got {request_timeout!r}")
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
    )

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
    )
    app.state.metrics = metrics
    app.state.batcher = batcher
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
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

    guarded = [Depends(check_token)] if token is not None else []
    errors = (400, 401, 413, 422, 503, 504) if token is not None else (400, 413, 422, 503, 504)

    async def score(completions: list[str], references: list[str], step: int | None) -> list[Any]:
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
        try:
            return await asyncio.wait_for(
                batcher.submit(completions, references, default_step if step is None else step),
                request_timeout,
            )
        except asyncio.TimeoutError:
            raise HTTPException(504, f"scoring took longer than {request_timeout} s") from None
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

    @post(
        "/get_reward",
        response_model=GetRewardResponse,
        summary="OpenRLHF remote reward (--reward.remote_url http://host:port/get_reward)",
    )
    async def get_reward(body: GetRewardRequest) -> GetRewardResponse:
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
        resolved = totals(await score(responses, body.labels, body.step), body.labels)
        rewards = [r.total for r in resolved]
        return GetRewardResponse(
            rewards=rewards, scores=list(rewards), extra_logs=collect_extra_logs(resolved)
        )

    @post(
        "/score",
        response_model=float,
        summary="slime remote reward (--rm-type remote_rm --rm-url http://host:port/score)",
    )
    async def score_one(body: SlimeScoreRequest) -> Any:
        (value,) = totals(await score([body.response], [body.label], body.step), [body.label])
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
    async def score_batch(body: ScoreBatchRequest) -> ScoreBatchResponse:
        step = default_step if body.step is None else body.step
        breakdowns = await score(body.completions, body.references, step)
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
            semantic_judge=getattr(resolved, "semantic", None) is not None,
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
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.exception_handler(MissingRewardError)
    async def missing_reward(_: Request, exc: MissingRewardError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    return app


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("himed-rewards")
    except Exception:  # not installed (running from a checkout)
        return "0+unknown"
