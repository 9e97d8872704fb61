"""HTTP reward server (``himed-rewards serve``); needs the ``server`` extra (FastAPI, uvicorn).

Importing this package needs neither: :func:`create_app` imports them and names
``pip install 'himed-rewards[server]'`` when they are missing.
"""

from himed_rewards.server.app import create_app

__all__ = ["create_app"]
