"""清流 Qingliu domain package: the money.

Ecological compensation (生态补偿金) under rule sets loaded from data, over the monthly section
values of :mod:`sections`. Pure functions and frozen dataclasses; no I/O, all money in ``Decimal``.
"""

__all__: list[str] = []
