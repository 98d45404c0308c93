"""Lightning's log lines printed once.

The top-level ``lightning`` package gives its logger a console handler of its own and lets
it propagate, so under the CLI (whose root logger prints every record) each Lightning line
came out twice: ``INFO: GPU available ...`` and ``INFO lightning...: GPU available ...``.
``lightning.pytorch`` itself already defers to the root logger when that has handlers;
:func:`lightning_logs_through_root` does the same for the top-level logger.

Lightning 2.6 also prints, in every training run, a tip advertising its hosted logging
service; :func:`drop_lightning_adverts` keeps that out of the console.
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


#: How Lightning's adverts begin (2.6: "💡 Tip: For seamless cloud logging and experiment
#: tracking, try installing [litlogger] ..."); its warnings and facts begin otherwise.
ADVERT_PREFIXES = ("\N{ELECTRIC LIGHT BULB} Tip:",)
#: The logger Lightning's ``rank_zero_info`` writes to.
RANK_ZERO_LOGGER = "lightning.pytorch.utilities.rank_zero"


class _NoAdverts(logging.Filter):
    """Drops records whose message is one of Lightning's adverts."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(ADVERT_PREFIXES)


def drop_lightning_adverts() -> None:
    """Keep Lightning's tips for hosted services out of the console; every other line of it stays (once per process)."""
    logger = logging.getLogger(RANK_ZERO_LOGGER)
    if not any(isinstance(f, _NoAdverts) for f in logger.filters):
        logger.addFilter(_NoAdverts())
