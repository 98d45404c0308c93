"""The gatekeeper: one caller cannot hold every slot; idle, long and oversized associations end."""

from __future__ import annotations

import time
from types import SimpleNamespace

from cxr_miliary.pacs.associations import Gatekeeper
from cxr_miliary.pacs.settings import Limits


class _Assoc:
    def __init__(self, address: str, title: str) -> None:
        self.requestor = SimpleNamespace(address=address, ae_title=title)


def test_the_gatekeeper_caps_callers_and_ends_idle_long_and_oversized_associations():
    """Class 5 and 11, on the gatekeeper's clock."""
    gate = Gatekeeper(Limits(per_caller=2, idle_s=10, lifetime_s=100, max_film_bytes=1000))
    slow = [_Assoc("10.0.0.1", "SLOW") for _ in range(5)]
    for a in slow:
        gate._opened(SimpleNamespace(assoc=a))
    modality = _Assoc("10.0.0.2", "MODALITY")
    gate._opened(SimpleNamespace(assoc=modality))
    now = time.monotonic()
    ended = {id(a): why for a, why in gate.verdicts(now)}
    assert len(ended) == 3 and id(modality) not in ended and all("from one caller" in w for w in ended.values())
    gate.stored(modality)
    for a in slow[:2]:
        gate._data(SimpleNamespace(assoc=a, data=b"x" * 100))  # an echo's bytes ...
        assert gate._echo(SimpleNamespace(assoc=a)) == 0  # ... answered: an echo does not make a caller active
    later = {id(a): why for a, why in gate.verdicts(now + 11)}
    assert id(slow[0]) in later and "no image stored" in later[id(slow[0])]
    gate.stored(modality)
    assert id(modality) not in {id(a) for a, _ in gate.verdicts(time.monotonic() + 5)}  # it stored a film 5 s ago
    assert "longer than" in dict((id(a), w) for a, w in gate.verdicts(now + 101))[id(modality)]
    big = _Assoc("10.0.0.3", "BIG")
    gate._opened(SimpleNamespace(assoc=big))
    gate._data(SimpleNamespace(assoc=big, data=b"x" * 2500))  # over twice the film limit while still arriving
    assert "still arriving" in dict((id(a), w) for a, w in gate.verdicts(time.monotonic()))[id(big)]
