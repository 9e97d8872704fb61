"""``python -m himed_train`` runs the ``himed-train`` command line."""

import sys

from himed_train.cli import main

sys.exit(main())
