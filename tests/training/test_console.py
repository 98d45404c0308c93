"""Lightning's log lines print once under a configured root logger."""

from __future__ import annotations

import logging

import pytest

from cxr_miliary.training.console import lightning_logs_through_root


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
