"""Early-warning alerts: rules → episodes → outbox → channels.

The pipeline:

- **rules** decide, from values, daily means, monthly classes, compensation events, forecasts
  and station silence, which sections call for an alert and at which level (pure domain code:
  :mod:`sections.alert_rules`, :mod:`sections.alert_evaluation`); :mod:`service.alerts.inputs`
  reads what they need, :mod:`service.alerts.run` runs one pass and the heartbeat;
- **episodes** (:mod:`service.alerts.episodes`, messages queued by
  :mod:`service.alerts.enqueue`) fold repeated conditions about one section and factor into one
  episode that opens, rises, escalates, is acknowledged and closes (with a 解除 message), so
  that a chief is told once, not every run;
- the **outbox** (:mod:`service.alerts.outbox`) stores every message before it is sent, sends
  one digest per robot group (:mod:`service.alerts.digest`), paces each robot (one send every
  3 s, 20 a minute), retries with backoff, records every attempt and fills each message's
  signed acknowledgement link (:mod:`service.alerts.ack_links`);
- **channels** (:mod:`service.alerts.channels`, built from the river-chief registry by
  :mod:`service.alerts.factory`) carry a message to people: a WeCom or DingTalk group robot,
  SMS, e-mail.

The scheduler's ``alerting`` job runs :func:`service.alerts.cadence.alert_tick` every minute.
People read and acknowledge episodes through :mod:`service.alerts.records` and
:mod:`service.alerts.acknowledgement` (the ``/alerts`` pages, ``/api/alerts``, the signed link,
``qingliu alerts``).
"""

from __future__ import annotations

__all__: list[str] = []
