"""``himed-rewards serve``: argument parsing, --openapi, and a real uvicorn process on loopback."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from himed_rewards.cli import serve

REPO = Path(__file__).resolve().parents[2]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="himed-rewards")
    serve.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["serve", *argv])


def test_defaults_bind_loopback():
    args = parse()
    assert (args.host, args.port, args.token, args.config) == ("127.0.0.1", 8000, None, None)
    assert args.func is serve.run


@pytest.mark.parametrize(
    "argv", [["--max-batch", "0"], ["--request-timeout", "-1"], ["--port", "x"]]
)
def test_bad_values_are_refused_by_the_parser(argv, capsys):
    with pytest.raises(SystemExit):
        parse(*argv)
    assert "serve" in capsys.readouterr().err


def test_openapi_flag_prints_the_spec(capsys):
    assert serve.run(parse("--openapi", "--token", "t")) == 0
    spec = json.loads(capsys.readouterr().out)
    assert "/get_reward" in spec["paths"] and "HTTPBearer" in spec["components"]["securitySchemes"]


def test_admission_and_docs_flags_reach_the_app():
    from fastapi.testclient import TestClient

    app = serve.build_app(parse("--max-queued-pairs", "7", "--body-timeout", "2", "--docs"))
    assert app.state.batcher.max_queued_pairs == 7
    with TestClient(app) as c:
        assert c.get("/openapi.json").status_code == 200
    with TestClient(serve.build_app(parse())) as c:
        assert c.get("/openapi.json").status_code == 404


def test_token_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(serve.TOKEN_ENV, "from-env")
    app = serve.build_app(parse())
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": "Bearer from-env"}).status_code == 200


def test_missing_config_file_is_an_error_exit(tmp_path, capsys):
    assert serve.run(parse("--config", str(tmp_path / "none.yaml"))) == 2
    assert "not a file" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_server_answers_and_stops_gracefully_on_sigterm():
    port = free_port()
    code = (
        "import sys\n"
        "from himed_rewards.cli import serve\n"
        "import argparse\n"
        "p = argparse.ArgumentParser(); serve.register(p.add_subparsers())\n"
        f"sys.exit(serve.run(p.parse_args(['serve', '--port', '{port}', '--token', 'tok'])))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        headers = {"Authorization": "Bearer tok"}
        r = httpx.post(
            f"{base}/score",
            json={"response": "No effusion.", "label": "No effusion."},
            headers=headers,
            timeout=60,
        )
        assert r.status_code == 200 and isinstance(r.json(), float)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # uvicorn re-raises the signal it handled once shutdown is complete
    assert proc.returncode in (0, -signal.SIGTERM), out
    assert "Application shutdown complete" in out
