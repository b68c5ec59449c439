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

Modules: :mod:`service.alerts.episodes` (``apply_conditions``, ``advance_episodes``,
``acknowledge``; ``EpisodePolicy`` with its [A] defaults), :mod:`service.alerts.outbox`
(``deliver``; ``DeliveryPolicy``) and :mod:`service.alerts.channels` (one ``Channel`` protocol
and the four built-ins, each answering every send with a ``Delivery`` the outbox acts on). The
rules are pure domain code in :mod:`sections.alert_rules`. Not yet: one digest per group and
run (each message is one row and one send), the signed acknowledgement link (the outbox's
``ack_url`` hook), and the scheduler job that calls these.
"""

from __future__ import annotations

__all__: list[str] = []
