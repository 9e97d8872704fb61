"""The verifier endpoint: reachable, serving the configured model, answering one real,
schema-valid verdict through the same ``LLMJudge`` the reward uses."""

from __future__ import annotations

import os
import time

import httpx

from himed_train.config import RewardSection
from himed_train.preflight.results import CheckResult, fail, ok, skip, warn

__all__ = ["PROBE_REFERENCE", "PROBE_CANDIDATE", "verifier_checks"]

#: The pair graded once: a faithful candidate, so a healthy verifier scores it high.
PROBE_REFERENCE = "The heart size is normal. The lungs are clear. No pleural effusion."
PROBE_CANDIDATE = "Normal heart size. Clear lungs. No pleural effusion."


def _api_key(section: RewardSection) -> tuple[str | None, str | None]:
    env = section.verifier.api_key_env
    if env is None:
        return None, None
    key = os.environ.get(env)
    return (key, None) if key else (None, f"reward.verifier.api_key_env {env!r} is unset or empty")


def _served_models(base_url: str, key: str | None, timeout: float) -> tuple[list[str] | None, str]:
    headers = {"Authorization": f"Bearer {key or 'EMPTY'}"}
    response = httpx.get(base_url.rstrip("/") + "/models", headers=headers, timeout=timeout)
    if response.status_code != 200:
        return None, f"GET /models answered HTTP {response.status_code}"
    try:
        ids = [str(m["id"]) for m in response.json()["data"]]
    except (ValueError, KeyError, TypeError):
        return None, "GET /models answered no OpenAI model list"
    return ids, "GET /models ok"


def verifier_checks(section: RewardSection) -> list[CheckResult]:
    """``verifier/reachable`` and ``verifier/verdict`` rows (skipped unless judge is llm).

    Examples:
        >>> verifier_checks(RewardSection(judge="offline"))[0].status
        'skip'
    """
    if section.judge != "llm":
        return [skip("verifier/endpoint", f"reward.judge is {section.judge!r}: no endpoint")]
    v = section.verifier
    key, key_problem = _api_key(section)
    if key_problem:
        return [fail("verifier/endpoint", key_problem)]
    results: list[CheckResult] = []
    try:
        models, note = _served_models(v.base_url, key, min(v.timeout, 10.0))
    except httpx.HTTPError as err:
        return [fail("verifier/reachable", f"{v.base_url}: {type(err).__name__}: {err}")]
    if models is None:
        results.append(warn("verifier/reachable", f"{v.base_url}: {note}"))
    elif v.model not in models:
        return [fail("verifier/reachable", (
            f"{v.base_url} serves {models}, not reward.verifier.model {v.model!r}"
        ))]  # fmt: skip
    else:
        results.append(ok("verifier/reachable", f"{v.base_url} serves {v.model!r}"))

    from himed_rewards.judge import LLMJudge

    judge = LLMJudge(
        v.base_url, v.model, api_key=key, timeout=v.timeout, max_retries=0, concurrency=1,
        dialect=v.dialect, on_failure="skip", max_tokens=v.max_tokens, use_cache=False,
        extra_body=v.extra_body,
    )  # fmt: skip
    started = time.perf_counter()
    try:
        (verdict,) = judge.score_batch([PROBE_CANDIDATE], [PROBE_REFERENCE])
    finally:
        judge.close()
    seconds = time.perf_counter() - started
    if not verdict.ok:
        results.append(fail("verifier/verdict", f"no valid verdict: {verdict.error}"))
    else:
        results.append(ok("verifier/verdict", (
            f"schema-valid verdict in {seconds:.2f} s: accuracy {verdict.accuracy:.2f}, "
            f"relevance {verdict.relevance:.2f}, completeness {verdict.completeness:.2f}"
        )))  # fmt: skip
    return results
