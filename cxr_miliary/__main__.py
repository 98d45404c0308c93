"""``python -m cxr_miliary`` = the ``cxr-miliary`` command."""

from .cli.main import run

run()
