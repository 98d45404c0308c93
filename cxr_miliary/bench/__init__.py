"""Benchmarks (``cxr-miliary bench``): figures measured on this machine, in one run.

- :mod:`.inference`: model forward vs end-to-end ``score`` throughput on every runtime,
  with and without maps, latency, cold start, faithfulness, memory.
- :mod:`.data`: phantom rendering and the ``prepare`` cache.

Benchmarks, not tests: nothing here asserts a speed.
"""
