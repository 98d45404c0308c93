"""Training entry point: ``python train.py fit --config configs/phantom.yaml`` (LightningCLI).

The Lightning training module has not landed yet; until it does this script says so
and exits with status 2 rather than pretending to train.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Report that training is not available in this version."""
    sys.stderr.write("error: training is not available in this version yet (the Lightning module is on the roadmap)\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
