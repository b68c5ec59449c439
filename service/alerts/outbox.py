"""The alert outbox: claim due messages, send them once, record every attempt, pace, retry.

:func:`deliver` is one pass over the outbox (the ``alerting`` job's tick every minute, with the
clock running: :mod:`service.alerts.cadence`). Each
message is one ``alert_outbox`` row, written by :mod:`service.alerts.episodes` in the
transaction that changed its episode. A pass repeats three steps per message:

1. **claim** a due ``pending`` row in a short transaction: ``status = 'sending'``, a fresh
   ``claim_token``, ``claimed_by = holder``, ``claimed_until = now + policy.claim_for``;
   PostgreSQL picks it with ``FOR UPDATE SKIP LOCKED``, SQLite with a conditional ``UPDATE …
   WHERE status = 'pending'`` whose row count says whether this process won. The same
   transaction checks the channel's **pacing** from ``alert_attempt`` and the claims in flight
   (so it holds across processes and restarts): at most ``policy.per_minute`` sends a minute
   and one every ``policy.min_interval`` per robot, none while a rate limit's ``hold_until``
   lasts. Claims of one channel are serialised (PostgreSQL: a transaction advisory lock per
   channel; SQLite: one writer at a time, taken by the claim transaction's first statement).
   For a robot, the claim takes with the row the robot's other due rows that fit one digest
   (:mod:`service.alerts.digest`, at most ``policy.digest_max``), under the same token: a group
   reads one message per pass, and pacing counts it as one send.
2. **send** outside any transaction: ``Channel.send`` answers with a ``Delivery``.
3. **mark** in one transaction: an ``alert_attempt`` row per row sent, and each row ``sent``,
   ``pending`` again (``rate_limited``: after ``retry_after``; ``unavailable``: exponential
   backoff with jitter, capped) or ``dead`` (``refused``, or ``policy.max_attempts``
   attempts), keeping the last code and answer. The update names the claim token: a sender
   whose claim was taken over changes nothing but its attempt record.

**Exactly once, and where it is only at least once.** No message is two rows (the unique
``dedupe_key``), and no row is sent by two senders at once (the claim). A row is sent again only
if its sender stopped (crash, kill, lost database) after claiming and before marking: when the
claim expires (``claimed_until``), the next pass records an ``expired`` attempt and sends it
again — the service may or may not have received the first send, and an HTTP robot has no
idempotency key to ask. That window is one send long (claim → send → mark, seconds); everything
claimed but never handed to the channel is recovered without a duplicate only in the sense that
it was never sent. Set ``claim_for`` well above the channels' timeouts so that a slow send is
not taken over while still in flight.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, text, update

from service.alerts.channels.base import (
    DINGTALK_PER_MINUTE,
    MIN_SEND_INTERVAL,
    Channel,
    Delivery,
)
from service.alerts.digest import DIGEST_MAX, digest_budget, digest_message, stored_size
from service.alerts.messages import message_from_json
from service.db.models import AlertAttempt, AlertEpisodeEvent, AlertOutbox, table_of
from service.db.queries import in_transaction
from service.errors import InputError

__all__ = [
    "DEFAULT_ACK_TEXT",
    "DeliveryPolicy",
    "DeliveryReport",
    "deliver",
]

logger = logging.getLogger("service.alerts.outbox")

OUTBOX = table_of(AlertOutbox)
ATTEMPTS = table_of(AlertAttempt)
EVENTS = table_of(AlertEpisodeEvent)

DEFAULT_ACK_TEXT = "登录清流“告警”页面确认"
"""What stands for the acknowledgement link while no ``ack_url`` hook is given."""
_ANSWER_MAX = 2000


@dataclass(frozen=True)
class DeliveryPolicy:
    """Pacing, retries and claims of the outbox.

    Attributes
    ----------
    per_minute : int
        Sends a minute per paced channel [V: WeCom and DingTalk robots take 20].
    min_interval : timedelta
        At least this between two sends of a paced channel [A: 3 s].
    paced_kinds : tuple of str
        Channel kinds paced per channel id [robots: wecom, dingtalk].
    max_attempts : int
        A message is dead after this many attempts [A: 6].
    backoff_base, backoff_cap : timedelta
        Retry after ``min(cap, base · 2^(attempts−1))``, times a jitter factor in [0.5, 1)
        [A: 30 s, 1 h].
    claim_for : timedelta
        How long a claim holds; after it, an unmarked row is sent again [A: 5 min, well above
        the channels' timeouts].
    batch : int
        Rows looked at per claim.
    digest_max : int
        A robot's due messages are sent as one digest of at most this many
        (:mod:`service.alerts.digest`); 1: one message per send.
    """

    per_minute: int = DINGTALK_PER_MINUTE
    min_interval: dt.timedelta = dt.timedelta(seconds=MIN_SEND_INTERVAL)
    paced_kinds: tuple[str, ...] = ("wecom", "dingtalk")
    max_attempts: int = 6
    backoff_base: dt.timedelta = dt.timedelta(seconds=30)
    backoff_cap: dt.timedelta = dt.timedelta(hours=1)
    claim_for: dt.timedelta = dt.timedelta(minutes=5)
    batch: int = 50
    digest_max: int = DIGEST_MAX

    def backoff(self, attempts: int, rng: random.Random) -> dt.timedelta:
        """The wait after the ``attempts``-th failed attempt, with jitter.

        >>> policy = DeliveryPolicy()
        >>> policy.backoff(1, random.Random(1)) <= dt.timedelta(seconds=30)
        True
        >>> policy.backoff(20, random.Random(1)) <= dt.timedelta(hours=1)
        True
        """
        base = self.backoff_base.total_seconds() * 2 ** min(max(attempts - 1, 0), 30)
        wait = min(self.backoff_cap.total_seconds(), base)
        return dt.timedelta(seconds=wait * rng.uniform(0.5, 1.0))


DEFAULT_DELIVERY_POLICY = DeliveryPolicy()


@dataclass
class DeliveryReport:
    """What one :func:`deliver` pass did (outbox row ids)."""

    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    rate_limited: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    """Claims that had lapsed unmarked: sent again (maybe a second time; see the module)."""
    lost_claims: list[int] = field(default_factory=list)
    """Rows this pass sent whose claim another sender had taken over meanwhile."""
    paced: list[str] = field(default_factory=list)
    """Channels that had due rows but were held by pacing or a rate limit."""


def deliver(
    *,
    engine: Engine,
    channels: Mapping[str, Channel],
    now: dt.datetime,
    holder: str,
    limit: int = 100,
    policy: DeliveryPolicy = DEFAULT_DELIVERY_POLICY,
    ack_url: Callable[[int, str], str] | None = None,
    rng: random.Random | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    budget: dt.timedelta = dt.timedelta(0),
) -> DeliveryReport:
    """Send up to ``limit`` due messages of the outbox, each at most once in this pass.

    With a fixed ``now`` only, a paced robot sends one message per pass (its next send is due
    ``policy.min_interval`` after the first). The service passes a ``clock`` and a ``budget``:
    each claim and record then takes the clock's time, and while the due messages left are
    held by pacing alone, the pass waits for the earliest channel to come free, as long as that
    is within ``budget`` of the start — so a backlog drains at the robots' pace (one every 3 s,
    at most 20 a minute), not one message a pass.

    Parameters
    ----------
    engine : Engine
        The migrated database.
    channels : mapping of str to Channel
        The built channels by id; rows of other channels wait.
    now : datetime
        The time of the pass (aware): due rows, pacing windows, claims and records use it.
    holder : str
        Who sends (host and process), kept on claims and attempts.
    limit : int
        At most this many sends in this pass.
    policy : DeliveryPolicy
        Pacing, retries and claims.
    ack_url : callable, optional
        (Episode id, recipient id) → the acknowledgement link filled into ``{ack_url}``
        (:meth:`service.alerts.ack_links.AckLinks.url`); without it, :data:`DEFAULT_ACK_TEXT`.
    rng : random.Random, optional
        The jitter's source (tests pass a seeded one).
    clock : callable, optional
        The current time (aware), read at every claim and record; without it, ``now`` always.
    budget : timedelta
        With a ``clock``: how long the pass may wait for paced channels [default: not at all].
    """
    if now.tzinfo is None:
        raise InputError(f"时间需带时区 / a time needs its zone: {now.isoformat()}")
    start = now.astimezone(dt.UTC)

    def tick() -> dt.datetime:
        return start if clock is None else clock().astimezone(dt.UTC)

    rng = rng or random.Random()
    report = DeliveryReport()
    if not channels:
        return report
    report.expired.extend(
        in_transaction(engine=engine, work=lambda c: _expire(c, tick(), holder))
    )
    deadline = time.monotonic() + budget.total_seconds()
    paced: dict[str, dt.datetime] = {}
    sent = 0
    while sent < limit:
        at = tick()
        claimed = in_transaction(
            engine=engine,
            work=partial(_claim, channels=channels, now=at, holder=holder, policy=policy,
                         paced=paced),
        )  # fmt: skip
        if claimed is None:
            wait = (min(paced.values()) - tick()).total_seconds() if paced else None
            if clock is None or wait is None or time.monotonic() + wait > deadline:
                break
            time.sleep(max(wait, 0.05))  # the robots' own pace: the earliest comes free
            paced.clear()
            continue
        sent += 1
        row_ids, token = claimed
        _send_and_mark(engine, row_ids, token, channels=channels, now=tick(), holder=holder,
                       policy=policy, ack_url=ack_url, rng=rng, report=report)  # fmt: skip
    report.paced.extend(sorted(paced))
    return report


# --- claim ---------------------------------------------------------------------------------------


def _expire(connection: Connection, now: dt.datetime, holder: str) -> list[int]:
    """Put rows whose claim lapsed unmarked back to ``pending``, recording an ``expired``
    attempt. Also, on SQLite, the claim pass's first write: it makes this process the writer."""
    expired = connection.execute(
        update(OUTBOX)
        .where(OUTBOX.c.status == "sending", OUTBOX.c.claimed_until < now)
        .values(status="pending", claim_token=None, claimed_until=None, next_attempt_at=now,
                last_code="expired", last_answer="认领过期，结果未知 / claim expired unmarked")
        .returning(OUTBOX.c.id, OUTBOX.c.channel_id, OUTBOX.c.claimed_by)
    ).all()  # fmt: skip
    for row in expired:
        logger.warning("告警发件箱 %s: 认领过期，重新发送 / claim by %s expired, sending again",
                       row.id, row.claimed_by)  # fmt: skip
        connection.execute(insert(ATTEMPTS).values(
            outbox_id=row.id, channel_id=row.channel_id, at=now, status="expired",
            code="expired", answer=f"claimed by {row.claimed_by}", duration=0.0, holder=holder,
        ))  # fmt: skip
    return [int(row.id) for row in expired]


def _claim(
    connection: Connection,
    *,
    channels: Mapping[str, Channel],
    now: dt.datetime,
    holder: str,
    policy: DeliveryPolicy,
    paced: dict[str, dt.datetime],
) -> tuple[list[int], str] | None:
    """Claim one due row of a channel that may send now — for a robot, with the rows due with
    it that fit one digest (:mod:`service.alerts.digest`); ``paced`` gains the channels that
    may not send now, with the time each comes free."""
    postgres = connection.dialect.name == "postgresql"
    if not postgres:  # take SQLite's write lock first: claims are serialised from here on
        connection.execute(
            update(OUTBOX).where(OUTBOX.c.status == "sending", OUTBOX.c.claimed_until < now)
            .values(next_attempt_at=OUTBOX.c.next_attempt_at)
        )  # fmt: skip
    open_channels = [c for c in channels if c not in paced]
    if not open_channels:
        return None
    query = (
        select(OUTBOX.c.id, OUTBOX.c.channel_id)
        .where(OUTBOX.c.status == "pending", OUTBOX.c.next_attempt_at <= now,
               OUTBOX.c.channel_id.in_(open_channels))
        .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
        .limit(policy.batch)
    )  # fmt: skip
    if postgres:
        query = query.with_for_update(skip_locked=True)
    for row in connection.execute(query).all():
        channel_id = str(row.channel_id)
        if channel_id in paced:
            continue
        channel = channels[channel_id]
        if channel.kind in policy.paced_kinds:
            if (
                postgres
                and not connection.execute(
                    text("SELECT pg_try_advisory_xact_lock(hashtext(:key))"),
                    {"key": f"qingliu.alert_outbox:{channel_id}"},
                ).scalar_one()
            ):
                # another sender is claiming for this channel right now
                paced[channel_id] = now + policy.min_interval
                continue
            free_at = _free_at(connection, channel_id, now, policy)
            if free_at is not None:
                paced[channel_id] = free_at
                continue
        token = secrets.token_hex(16)
        won = connection.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == row.id, OUTBOX.c.status == "pending",
                   (OUTBOX.c.claimed_until.is_(None)) | (OUTBOX.c.claimed_until < now))
            .values(status="sending", claim_token=token, claimed_by=holder[:128],
                    claimed_until=now + policy.claim_for, attempts=OUTBOX.c.attempts + 1)
        ).rowcount  # fmt: skip
        if won == 1:
            claimed = [int(row.id)]
            if channel.kind in policy.paced_kinds and policy.digest_max > 1:
                claimed += _claim_digest(connection, row.id, channel_id, token, now=now,
                                         holder=holder, policy=policy)  # fmt: skip
            return claimed, token
    return None


def _claim_digest(
    connection: Connection, first_id: int, channel_id: str, token: str, *, now: dt.datetime,
    holder: str, policy: DeliveryPolicy,
) -> list[int]:  # fmt: skip
    """Claim, with the same token, the robot's other due rows that fit one digest."""
    rows = connection.execute(
        select(OUTBOX.c.id, OUTBOX.c.message).where(
            OUTBOX.c.channel_id == channel_id, OUTBOX.c.status.in_(("pending", "sending")),
            OUTBOX.c.next_attempt_at <= now,
            (OUTBOX.c.id == first_id) | (OUTBOX.c.status == "pending"),
        ).order_by(OUTBOX.c.id != first_id, OUTBOX.c.next_attempt_at, OUTBOX.c.id)
        .limit(policy.digest_max)
    ).all()  # fmt: skip
    if not rows or int(rows[0].id) != first_id:
        return []
    first = dict(rows[0].message)
    room = digest_budget(first) - stored_size(first)
    mentions = bool(first.get("mobiles"))
    claimed: list[int] = []
    for row in rows[1:]:
        stored = dict(row.message)
        size = stored_size(stored)
        if bool(stored.get("mobiles")) != mentions or size > room:
            break  # text and markdown do not mix; the rest waits for the next digest
        won = connection.execute(
            update(OUTBOX).where(OUTBOX.c.id == row.id, OUTBOX.c.status == "pending")
            .values(status="sending", claim_token=token, claimed_by=holder[:128],
                    claimed_until=now + policy.claim_for, attempts=OUTBOX.c.attempts + 1)
        ).rowcount  # fmt: skip
        if won == 1:
            claimed.append(int(row.id))
            room -= size
    return claimed


def _free_at(
    connection: Connection, channel_id: str, now: dt.datetime, policy: DeliveryPolicy
) -> dt.datetime | None:
    """When a paced channel may send, counted from attempts and claims in flight: ``None`` if
    at ``now``, else the earliest time it may (a rate limit's hold, the minute's window, the
    interval after the last send)."""
    minute_ago = now - dt.timedelta(minutes=1)
    recent = connection.execute(
        select(func.count(ATTEMPTS.c.at.distinct()), func.max(ATTEMPTS.c.at),
               func.min(ATTEMPTS.c.at))
        .where(ATTEMPTS.c.channel_id == channel_id, ATTEMPTS.c.at > minute_ago,
               ATTEMPTS.c.status != "expired")
    ).one()  # fmt: skip
    held = connection.execute(
        select(func.max(ATTEMPTS.c.hold_until)).where(
            ATTEMPTS.c.channel_id == channel_id, ATTEMPTS.c.hold_until > now
        )
    ).scalar_one_or_none()
    if held is not None:
        return _aware(held)
    in_flight = connection.execute(
        select(func.count()).where(
            OUTBOX.c.channel_id == channel_id, OUTBOX.c.status == "sending",
            OUTBOX.c.claimed_until >= now,
        )
    ).scalar_one()  # fmt: skip
    if in_flight:  # another sender's message is on its way: look again after the interval
        return now + policy.min_interval
    count, last, first = int(recent[0]), _aware(recent[1]), _aware(recent[2])
    if count >= policy.per_minute and first is not None:
        return first + dt.timedelta(minutes=1)
    if last is not None and now - last < policy.min_interval:
        return last + policy.min_interval
    return None


# --- send and mark -----------------------------------------------------------------------------


def _send_and_mark(
    engine: Engine,
    row_ids: list[int],
    token: str,
    *,
    channels: Mapping[str, Channel],
    now: dt.datetime,
    holder: str,
    policy: DeliveryPolicy,
    ack_url: Callable[[int, str], str] | None,
    rng: random.Random,
    report: DeliveryReport,
) -> None:
    """Send the claimed rows as one message (one row, or a robot's digest) and mark each."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(OUTBOX).where(OUTBOX.c.id.in_(row_ids)).order_by(OUTBOX.c.id)
        ).all()
    channel_id = str(rows[0].channel_id)
    channel = channels[channel_id]
    started = time.monotonic()
    try:
        messages = [
            message_from_json(dict(row.message), ack_url=DEFAULT_ACK_TEXT if ack_url is None
                              else ack_url(int(row.episode_id), str(row.recipient_id)))
            for row in rows
        ]  # fmt: skip
        delivery = channel.send(digest_message(messages))
    except Exception as exc:  # a channel must not raise; a stored message may be unusable
        logger.exception("告警通道 %s 发送出错 / channel %s raised", channel_id, channel_id)
        delivery = Delivery("unavailable", type(exc).__name__, str(exc)[:_ANSWER_MAX])
    duration = time.monotonic() - started
    hold_until = None
    if delivery.status == "rate_limited":
        assert delivery.retry_after is not None
        hold_until = now + dt.timedelta(seconds=delivery.retry_after)
    outcomes: dict[int, tuple[dict[str, Any], list[int]]] = {}
    for row in rows:
        values, outcome = _outcome(delivery, int(row.attempts), now, hold_until, policy, rng,
                                   report)  # fmt: skip
        outcomes[int(row.id)] = values, outcome

    def mark(connection: Connection) -> list[int]:
        kept: list[int] = []
        for row in rows:
            connection.execute(insert(ATTEMPTS).values(
                outbox_id=row.id, channel_id=channel_id, at=now, status=delivery.status,
                code=delivery.code[:64], answer=delivery.answer[:_ANSWER_MAX],
                duration=duration, hold_until=hold_until, holder=holder[:128],
            ))  # fmt: skip
            changed = connection.execute(
                update(OUTBOX).where(OUTBOX.c.id == row.id, OUTBOX.c.claim_token == token)
                .values(**outcomes[int(row.id)][0])
            ).rowcount  # fmt: skip
            if not changed:
                continue
            kept.append(int(row.id))
            if delivery.ok:
                connection.execute(insert(EVENTS).values(
                    episode_id=row.episode_id, at=now, kind="sent",
                    detail={"outbox_id": int(row.id), "channel": channel_id,
                            "recipient": row.recipient_id, "level": int(row.level),
                            "digest_of": len(rows)},
                ))  # fmt: skip
        return kept

    kept = in_transaction(engine=engine, work=mark)
    for row_id, (_, outcome) in outcomes.items():
        if row_id in kept:
            outcome.append(row_id)
        else:
            logger.warning("告警发件箱 %s: 认领已被接管 / claim taken over meanwhile", row_id)
            report.lost_claims.append(row_id)


def _outcome(
    delivery: Delivery,
    attempts: int,
    now: dt.datetime,
    hold_until: dt.datetime | None,
    policy: DeliveryPolicy,
    rng: random.Random,
    report: DeliveryReport,
) -> tuple[dict[str, Any], list[int]]:
    """A row's new values after an answer, and the report list it goes to."""
    values: dict[str, Any] = {
        "claim_token": None, "claimed_until": None, "last_code": delivery.code[:64],
        "last_answer": delivery.answer[:_ANSWER_MAX],
    }  # fmt: skip
    if delivery.ok:
        return values | {"status": "sent", "sent_at": now}, report.sent
    if delivery.status == "rate_limited":
        dead = attempts >= policy.max_attempts
        values |= {"status": "dead" if dead else "pending", "next_attempt_at": hold_until}
        return values, report.dead if dead else report.rate_limited
    if delivery.permanent or attempts >= policy.max_attempts:
        return values | {"status": "dead"}, report.dead
    wait = policy.backoff(attempts, rng)
    return values | {"status": "pending", "next_attempt_at": now + wait}, report.retried


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
