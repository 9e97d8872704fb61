"""The server tests reuse the adapter tests' fixtures (tests/integrations/conftest.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_NAME = "himed_integrations_conftest"
if _NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        _NAME, Path(__file__).parents[1] / "integrations" / "conftest.py"
    )
    sys.modules[_NAME] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules[_NAME])
_shared = sys.modules[_NAME]

# Assigned here so pytest registers them for tests/server as well.
iu_pairs = _shared.iu_pairs
failing_judge = _shared.failing_judge
slow_judge = _shared.slow_judge
_no_env_config = _shared._no_env_config
