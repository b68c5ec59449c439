"""Appeals (申诉): a county contests a line of an issued compensation statement; the bureau
accepts it (data review → recalculation → a new version) or rejects it with a reason.

:mod:`~service.appeals.workflow` holds the steps, :mod:`~service.appeals.records` reads
appeals back, :mod:`~service.appeals.lines` names the lines that may be appealed and
:mod:`~service.appeals.attachments` checks the files sent with one. See ``docs/appeals.md``.
"""
