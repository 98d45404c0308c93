"""The limits every input is held to (docs/inputs-and-checks.md: "When the tool says no").

They bound what one hostile or broken file can cost; each can be changed per call
(``load_image(max_pixels=...)``) or per process with the environment variables named here.
"""

from __future__ import annotations

import os


def _env_int(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


#: Decoded image size, in pixels, as declared by the header *and* by the codestream
#: (``CXR_MILIARY_MAX_PIXELS``; ``--max-pixels`` in ``info``).
DEFAULT_MAX_PIXELS = _env_int("CXR_MILIARY_MAX_PIXELS", 100_000_000)
#: Size a Deflated Explicit VR data set may inflate to, in bytes: enough for the largest
#: allowed 16-bit image plus a generous header (``CXR_MILIARY_MAX_INFLATED_BYTES``).
MAX_INFLATED_BYTES = _env_int("CXR_MILIARY_MAX_INFLATED_BYTES", 2 * DEFAULT_MAX_PIXELS + (64 << 20))
#: Identifying values collected from one file for redaction, and the length kept of each.
MAX_PHI_VALUES = 2_000
MAX_PHI_VALUE_CHARS = 256
#: Decoder warnings kept per file (the rest are counted, not stored).
MAX_DECODER_WARNINGS = 50
#: Seconds a ``score`` worker may spend decoding one file (``score --file-timeout``).
FILE_TIMEOUT_S = 120.0
