"""Training entry point (LightningCLI): ``python train.py fit --config configs/phantom.yaml``.

Same as ``cxr-miliary train fit --config ...``. See ``python train.py --help``.
"""

from __future__ import annotations

from cxr_miliary.training.cli import main

if __name__ == "__main__":
    main()
