"""HJ 212-2017 wire protocol: frames, CRC, data values, stream reassembly and the 9014 answer.

Pure: no sockets, no clock of its own (the packet assembler takes one), no database. A receiver
(:mod:`service.feeds.hj212.receiver`) feeds the bytes of a TCP connection to
:class:`FrameSplitter`, parses each candidate with :func:`parse_frame`, answers with
:func:`response_frame` when the frame asks for it, and joins split packets with
:class:`PacketAssembler`. Pollutant codes map to Qingliu's parameter keys through
``sections/data/pollutant_codes.csv``.

Frame [V]::

    ##dddd<data segment>CCCC\\r\\n
    data segment = QN=…;ST=…;CN=…;PW=…;MN=…;Flag=…[;PNUM=…;PNO=…];CP=&&<command parameters>&&

``dddd`` is the length of the data segment in bytes (at most 1024), ``CCCC`` its CRC in four hex
digits. Data commands (2011 real-time, 2051 minute, 2061 hourly, 2031 daily) carry
``DataTime=yyyyMMddHHmmss;`` and per pollutant ``code-Rtd|Avg|Min|Max|Cou=value``, ``code-Flag``
and optionally ``code-SampleTime``; groups are ``;``-separated, fields of one pollutant
``,``-separated. Times are Beijing time.

Modules, one idea each:

- :mod:`~service.feeds.hj212.frame` — limits, codes, flags, refusal reasons; :class:`Hj212Frame`
  and :class:`Hj212Value`, and the fast constructors generated from their fields;
- :mod:`~service.feeds.hj212.crc` — the CRC (:func:`crc16`);
- :mod:`~service.feeds.hj212.codes` — the pollutant-code table (:data:`POLLUTANT_TABLE`);
- :mod:`~service.feeds.hj212.parse` — :func:`parse_frame` and the general, item-by-item parser;
- :mod:`~service.feeds.hj212.fastpath` — the usual frame shape read with whole-string operations;
- :mod:`~service.feeds.hj212.stream` — :class:`FrameSplitter` and :class:`PacketAssembler`;
- :mod:`~service.feeds.hj212.build` — :func:`build_frame`, :func:`data_frame`,
  :func:`response_frame`;
- :mod:`~service.feeds.hj212.checks` — frame times and plausibility, checked before a frame's
  values join a batch (not imported here);
- :mod:`~service.feeds.hj212.guard` — byte budgets, connections per address and back-off of
  failing senders (pure bookkeeping for the receiver; not imported here);
- :mod:`~service.feeds.hj212.receiver` — the TCP receiver (database, sockets; not imported here).

Every refusal raises :class:`service.errors.FrameError` with one of the :data:`REASONS` codes.

Speed: a real-time frame of 9 pollutants parses in about 16 µs on one core (benchmark
``hj212_parse``).

References
----------
.. [1] HJ 212-2017 污染物在线监控（监测）系统数据传输标准: frame, CRC (appendix A), data segment,
   command codes, 9014 data answer [V]; feeds.md §1.
.. [2] domain.md §5: pollutant codes of surface-water stations [V], data flags [A].
"""

from service.feeds.hj212.build import build_frame, data_frame, response_frame
from service.feeds.hj212.codes import (
    POLLUTANT_CODES,
    POLLUTANT_CODES_TABLE,
    POLLUTANT_TABLE,
    PollutantCode,
    canonical_value,
)
from service.feeds.hj212.crc import crc16
from service.feeds.hj212.frame import (
    DATA_COMMANDS,
    DATA_FLAGS,
    MAX_DATA_BYTES,
    MAX_FRAME_BYTES,
    REASONS,
    SENTINEL_MAX,
    VALUE_FIELDS,
    Hj212Frame,
    Hj212Value,
)
from service.feeds.hj212.parse import parse_frame
from service.feeds.hj212.stream import (
    PACKET_TIMEOUT,
    FrameSplitter,
    PacketAssembler,
    StreamError,
)

__all__ = [
    "DATA_COMMANDS",
    "DATA_FLAGS",
    "MAX_DATA_BYTES",
    "MAX_FRAME_BYTES",
    "PACKET_TIMEOUT",
    "POLLUTANT_CODES",
    "POLLUTANT_CODES_TABLE",
    "POLLUTANT_TABLE",
    "REASONS",
    "SENTINEL_MAX",
    "VALUE_FIELDS",
    "FrameSplitter",
    "Hj212Frame",
    "Hj212Value",
    "PacketAssembler",
    "PollutantCode",
    "StreamError",
    "build_frame",
    "canonical_value",
    "crc16",
    "data_frame",
    "parse_frame",
    "response_frame",
]
