"""Early-warning alerts: rules → episodes → outbox → channels.

The pipeline, as issue 13 lays it out:

- **rules** decide, from the day's classes, exceedances and forecasts, which sections call for an
  alert and at which level;
- **episodes** fold repeated alerts about one section and pollutant into one episode that opens,
  escalates and closes, so that a chief is told once, not every run;
- the **outbox** stores every message before it is sent, batches one digest per group and run,
  paces each channel (at most one send every 3 s, 20 a minute per robot), retries with backoff
  and records every attempt;
- **channels** carry a message to people: a WeCom or DingTalk group robot, SMS, e-mail.

So far only the channels exist (:mod:`service.alerts.channels`): one ``Channel`` protocol and the
four built-ins, each answering every send with a ``Delivery`` the outbox can act on.
"""

from __future__ import annotations

__all__: list[str] = []
