"""Stand-ins for the node's end-to-end tests (importable in the node's spawned scorer, which pickles them)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from cxr_miliary.pacs.node import ModelSpec

#: A film whose first bytes hold this kills the scoring process while it is decoded (as a native codec crash would).
MARKER = b"CRASH-THE-SCORER"


@dataclass
class CrashingModel(ModelSpec):
    """The real model, and a decoder that ends the scoring process on a marked film (decode runs in the scorer with --workers 0)."""

    def load(self):
        from cxr_miliary.inference import decoding

        real = decoding.load_image

        def load_image(path, **kw):
            with open(path, "rb") as fh:
                if MARKER in fh.read(8192):
                    os._exit(70)
            return real(path, **kw)

        decoding.load_image = load_image
        return super().load()


@dataclass
class SlowModel(ModelSpec):
    """The real model, loaded after ``delay_s``: films are acknowledged before the scorer can write anything."""

    delay_s: float = 6.0

    def load(self):
        import time

        time.sleep(self.delay_s)
        return super().load()
