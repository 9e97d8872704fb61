"""Command-line interface (``himed-rewards``)."""
