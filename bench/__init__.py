"""vhub benchmarks: every figure beside a baseline measured in the same run, on the same machine.

Run ``python -m bench`` (``make bench``); ``python -m bench --only baselines --quick`` for a short
subset. Never part of ``make test``.
"""
