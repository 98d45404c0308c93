"""The review page: a worklist of what was scored, opened from disk (``cxr-miliary review``, ``score --review``)."""
