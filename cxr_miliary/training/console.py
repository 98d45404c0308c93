"""Lightning's log lines printed once.

The top-level ``lightning`` package gives its logger a console handler of its own and lets
it propagate, so under the CLI (whose root logger prints every record) each Lightning line
came out twice: ``INFO: GPU available ...`` and ``INFO lightning...: GPU available ...``.
``lightning.pytorch`` itself already defers to the root logger when that has handlers;
:func:`lightning_logs_through_root` does the same for the top-level logger.
"""

from __future__ import annotations

import logging


def lightning_logs_through_root() -> None:
    """Drop the ``lightning`` logger's own console handler when the root logger has handlers (so each line prints once)."""
    if not logging.getLogger().handlers:
        return  # nobody else prints: Lightning's own handler is the only console it has
    lightning = logging.getLogger("lightning")
    for handler in list(lightning.handlers):
        if type(handler) is logging.StreamHandler:  # Lightning's console, not a user's file handler
            lightning.removeHandler(handler)
