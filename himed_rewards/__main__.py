"""``python -m himed_rewards`` runs the CLI."""

import sys

from himed_rewards.cli.main import main

sys.exit(main())
