"""Qingliu's benchmarks: ``python -m benchmarks [NAME …]``.

Each benchmark measures Qingliu against a baseline in the same run and reports the ratio, so a
result holds on whatever machine runs it. Results are printed and written to
``benchmarks/results/NAME.json``; ``docs/performance.md`` records them with this command.
"""
