"""Lightning's log lines print once under a configured root logger."""

from __future__ import annotations

import logging

import pytest

from cxr_miliary.training.console import RANK_ZERO_LOGGER, drop_lightning_adverts, lightning_logs_through_root


@pytest.fixture
def lightning_logger():
    lg = logging.getLogger("lightning")
    saved = list(lg.handlers)
    yield lg
    lg.handlers[:] = saved


def test_lightning_console_dropped_when_root_prints(lightning_logger, monkeypatch):
    console, to_file = logging.StreamHandler(), logging.NullHandler()
    lightning_logger.handlers[:] = [console, to_file]
    monkeypatch.setattr(logging.getLogger(), "handlers", [logging.StreamHandler()])
    lightning_logs_through_root()
    assert lightning_logger.handlers == [to_file]  # a handler someone else added stays


def test_lightning_console_kept_when_nothing_else_prints(lightning_logger, monkeypatch):
    console = logging.StreamHandler()
    lightning_logger.handlers[:] = [console]
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    lightning_logs_through_root()
    assert lightning_logger.handlers == [console]


def test_lightnings_advert_is_dropped_and_its_facts_kept(caplog):
    from lightning.pytorch.utilities.rank_zero import rank_zero_info

    drop_lightning_adverts()
    drop_lightning_adverts()  # twice: still one filter
    assert len(logging.getLogger(RANK_ZERO_LOGGER).filters) == 1
    with caplog.at_level(logging.INFO):
        rank_zero_info("\N{ELECTRIC LIGHT BULB} Tip: For seamless cloud logging and experiment tracking, try installing [litlogger]")
        rank_zero_info("GPU available: False, used: False")
    assert [r.getMessage() for r in caplog.records] == ["GPU available: False, used: False"]
