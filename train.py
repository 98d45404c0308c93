"""Training entry point (LightningCLI): ``python train.py fit --config configs/phantom.yaml``.

Same as ``cxr-miliary train fit --config ...``. See ``python train.py --help``.
``python train.py lungs fit --config configs/lung_fields.yaml`` trains the lung-field model
(same as ``cxr-miliary train-lungs``).
"""

from __future__ import annotations

import sys

from cxr_miliary.training.cli import lungs_main, main

if __name__ == "__main__":
    if sys.argv[1:2] == ["lungs"]:  # python train.py lungs fit --config configs/lung_fields.yaml
        lungs_main(sys.argv[2:])
    else:
        main()
