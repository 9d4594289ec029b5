"""moto's SQS standard queues, indexed: the cost of a call no longer grows with queue depth.

Why: moto 5.2 keeps a queue's messages in one list and walks it on almost every call.
``ReceiveMessage`` builds the list of visible messages, then for each message it returns
checks the retention period through ``GetQueueAttributes``, which counts visible, in-flight
and delayed messages by walking the list again (three walks, twice per message); each
``SendMessage`` (every S3 event notification) reads the queue's attributes the same way;
``DeleteMessage`` walks the list to find a receipt handle and rebuilds it; a long poll
re-walks it on every wake-up. Measured on moto 5.2.5 (backend calls, no HTTP): a 10-message
receive plus its batch delete costs 14 ms at a depth of 100, 0.41 s at 1,000, 2.5 s at
5,000; one send 0.8 ms, 7.3 ms, 47 ms. A burst of 10,000 uploads therefore drained at
2 images/s (issue 14).

What :func:`install` changes (once per process; the embedded emulator calls it when it
starts, deploy/local/emulator.py):

- standard (non-FIFO) queues are created as :class:`IndexedQueue`: messages by id, receipt
  handles in a dict, visible messages in a heap by send order, in-flight and delayed ones in
  a heap by the time they become visible, and a count per state. Receive, delete, change
  visibility and the approximate counts cost O(log depth) per message handled;
- ``SQSBackend.receive_message`` and ``change_message_visibility`` use those indexes for an
  :class:`IndexedQueue` (moto's own code for any other queue);
- ``SQSBackend.is_message_valid_based_on_retention_period`` reads the queue's retention
  period instead of computing all its attributes.

SQS semantics kept (as moto implements them, unless noted): messages come out oldest first
among those visible; a received message is hidden for the visibility timeout (the call's, or
the queue's) and comes back after it unless deleted; ``ApproximateReceiveCount`` counts
receives; a message already received ``maxReceiveCount`` times moves to the dead-letter queue
at the next receive that meets it (redrive policy); delete by the current or an older receipt
handle, twice is harmless, an unknown handle is ``ReceiptHandleIsInvalid``;
``ChangeMessageVisibility`` (0 makes it visible at once; the 12-hour limit);
``DelaySeconds``; long polling (``WaitTimeSeconds``) wakes on a send or when a hidden
message comes back; purge; the three ``ApproximateNumberOfMessages*`` attributes. Two
differences from moto, both towards SQS: a message past the retention period is dropped
when a receive meets it (moto stops that receive there and keeps the message), and
concurrent receives never return the same message twice (moto's may, since nothing locks
the list). FIFO queues are moto's own ``Queue``, unchanged.

Also: received copies are made without ``deepcopy``, which in moto registers every copy in
its dashboard's instance list (``moto.core.model_instances``) for the life of the process.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from moto.core.model_instances import model_data
from moto.core.utils import unix_time, unix_time_millis
from moto.sqs import models as sqs_models
from moto.sqs.exceptions import InvalidParameterValue, ReceiptHandleIsInvalid, SQSException
from moto.sqs.models import Message, SQSBackend

from deploy.local import moto_internals

MotoQueue = sqs_models.Queue  # moto's own class: FIFO queues, and the parent of ours
MAX_VISIBILITY_TOTAL_MS = 43_200 * 1000  # SQS: 12 hours from the message's send
LONG_POLL_RECHECK_S = 1.0  # a long poll re-checks at least this often (as moto's does)

READY, IN_FLIGHT, DELAYED = "ready", "in_flight", "delayed"

_tokens = itertools.count(1)  # one per placement: a heap entry is current iff it matches
_install_lock = threading.Lock()
_installed: dict[str, Any] = {}  # the methods replaced, by name (empty: not installed)

# What install() replaces, and the moto methods IndexedQueue overrides or calls.
MOTO_NAMES = (
    "SQSBackend.receive_message",
    "SQSBackend.change_message_visibility",
    "SQSBackend.is_message_valid_based_on_retention_period",
    "SQSBackend.get_queue",
    "Queue._set_attributes",
    "Queue.add_message",
    "Queue.delete_message",
    "Queue.wait_for_messages",
    "Message.mark_received",
    "Message.change_visibility",
    "_filter_message_attributes",
)


@dataclass(eq=False, slots=True)
class _Entry:
    """A message in one queue: its place in send order, its state and its current token."""

    message: Message
    order: int
    state: str = READY
    token: int = 0
    handles: list[str] = field(default_factory=list)


class IndexedQueue(MotoQueue):
    """moto's standard queue with indexes (see the module docstring). Created in place of
    moto's ``Queue`` once :func:`install` ran; a FIFO queue is still moto's own class."""

    def __new__(cls, name: str, region: str, account_id: str, **kwargs: Any) -> Any:
        if str(kwargs.get("FifoQueue", "false")).lower() == "true":
            return MotoQueue(name, region, account_id, **kwargs)  # type: ignore[abstract]
        return super().__new__(cls)

    # -- storage: moto's ``_messages`` list, as a view of the indexes ---------------------
    @property
    def _messages(self) -> list[Message]:
        """Every message of the queue in send order (a copy: change it through methods)."""
        return [entry.message for entry in self._by_id.values()]

    @_messages.setter
    def _messages(self, messages: list[Message]) -> None:
        # moto assigns it in ``Queue.__init__`` ([]) and in ``purge_queue`` ([]).
        lock = self.__dict__.get("_messages_lock") or threading.RLock()
        with lock:
            self._by_id: dict[str, _Entry] = {}
            self._by_receipt: dict[str, _Entry] = {}
            self._ready: list[tuple[int, int, _Entry]] = []  # (send order, token, entry)
            self._hidden: list[tuple[float, int, _Entry]] = []  # (visible again at ms, ...)
            self._counts = {READY: 0, IN_FLIGHT: 0, DELAYED: 0}
            self._next_order = itertools.count()
            for message in messages:
                self._index(message)

    def _set_attributes(self, attributes: dict[str, Any], now: float | None = None) -> None:
        if str(attributes.get("FifoQueue", "false")).lower() == "true":
            msg = "FifoQueue cannot be set on an existing standard queue"
            raise SQSException("InvalidAttributeValue", msg)
        super()._set_attributes(attributes, now)

    # -- index upkeep (callers hold ``_messages_lock``, except during ``__init__``) --------
    def _index(self, message: Message) -> _Entry:
        entry = _Entry(message, next(self._next_order))
        self._by_id[message.id] = entry
        for handle in message.all_receipt_handles:
            if handle:
                entry.handles.append(handle)
                self._by_receipt[handle] = entry
        self._place(entry, counted=False)
        return entry

    def _place(self, entry: _Entry, *, counted: bool = True) -> None:
        """File ``entry`` by its message's state now: visible, in flight, or delayed."""
        if counted:
            self._counts[entry.state] -= 1
        message = entry.message
        entry.token = next(_tokens)
        now = unix_time_millis()
        if now < message.delayed_until or not now > message.visible_at:
            entry.state = DELAYED if now < message.delayed_until else IN_FLIGHT
            due = max(message.delayed_until, message.visible_at)
            heapq.heappush(self._hidden, (due, entry.token, entry))
        else:
            entry.state = READY
            heapq.heappush(self._ready, (entry.order, entry.token, entry))
        self._counts[entry.state] += 1

    def _current(self, entry: _Entry, token: int) -> bool:
        return entry.token == token and self._by_id.get(entry.message.id) is entry

    def _promote(self) -> None:
        """Move hidden messages whose time has come to the visible heap."""
        now = unix_time_millis()
        while self._hidden and self._hidden[0][0] < now:
            _, token, entry = heapq.heappop(self._hidden)
            if self._current(entry, token):
                self.pending_messages.discard(entry.message)
                self._place(entry)

    def _remove(self, entry: _Entry) -> None:
        del self._by_id[entry.message.id]
        for handle in entry.handles:
            self._by_receipt.pop(handle, None)
        self._counts[entry.state] -= 1
        self.pending_messages.discard(entry.message)

    def _seconds_until_due(self) -> float:
        while self._hidden and not self._current(self._hidden[0][2], self._hidden[0][1]):
            heapq.heappop(self._hidden)  # stale: deleted, or placed again since
        if not self._hidden:
            return LONG_POLL_RECHECK_S
        return max(0.0, (self._hidden[0][0] - unix_time_millis()) / 1000)

    # -- moto's Queue interface --------------------------------------------------------
    def add_message(self, message: Message) -> None:
        """Enqueue ``message`` (a send, or a move to this dead-letter queue).

        Raises:
            NotImplementedError: moto's own Lambda polls this queue (deploy.local does not
                use moto's Lambda; its SQS mapping polls through the API).
        """
        if self.lambda_event_source_mappings:
            msg = "IndexedQueue does not drive moto's Lambda event source mappings"
            raise NotImplementedError(msg)
        with self._messages_lock:
            self._index(message)
            self._messages_lock.notify_all()

    def delete_message(self, receipt_handle: str) -> None:
        """Delete by any receipt handle the message had; again: harmless.

        Raises:
            ReceiptHandleIsInvalid: no message of this queue ever had ``receipt_handle``.
        """
        with self._messages_lock:
            if receipt_handle in self.deleted_messages:
                return
            entry = self._by_receipt.get(receipt_handle)
            if entry is None:
                raise ReceiptHandleIsInvalid()
            self._remove(entry)
            self.deleted_messages.update(entry.handles)

    @property
    def messages(self) -> list[Message]:
        """The messages visible now, in send order (O(depth): not on any hot path)."""
        with self._messages_lock:
            self._promote()
            live = [e for _, t, e in self._ready if self._current(e, t)]
        return [e.message for e in sorted(live, key=lambda e: e.order)]

    def wait_for_messages(self, timeout: int) -> None:
        with self._messages_lock:
            self._messages_lock.wait_for(self._has_visible, timeout=timeout)

    def _has_visible(self) -> bool:
        self._promote()
        return self._counts[READY] > 0

    @property
    def approximate_number_of_messages(self) -> int:
        with self._messages_lock:
            self._promote()
            return self._counts[READY]

    @property
    def approximate_number_of_messages_not_visible(self) -> int:
        with self._messages_lock:
            self._promote()
            return self._counts[IN_FLIGHT]

    @property
    def approximate_number_of_messages_delayed(self) -> int:
        with self._messages_lock:
            self._promote()
            return self._counts[DELAYED]

    # -- the backend operations --------------------------------------------------------
    def receive(
        self,
        count: int,
        wait_s: int,
        visibility_timeout: int,
        attribute_names: list[str],
    ) -> list[Message]:
        """Up to ``count`` visible messages, oldest first, hidden for ``visibility_timeout``
        seconds; waits up to ``wait_s`` seconds for one (long poll). Messages past the
        redrive policy's ``maxReceiveCount`` move to the dead-letter queue on the way."""
        deadline = time.monotonic() + wait_s
        while True:
            with self._messages_lock:
                taken, to_dead_letters = self._take(count, visibility_timeout)
                left_s = deadline - time.monotonic()
                if not taken and not to_dead_letters and left_s > 0:
                    wait_s_now = min(left_s, self._seconds_until_due(), LONG_POLL_RECHECK_S)
                    self._messages_lock.wait(max(wait_s_now, 0.001))
                    continue
            if to_dead_letters and self.dead_letter_queue is not None:
                for message in to_dead_letters:
                    self.dead_letter_queue.add_message(message)
            if taken or time.monotonic() >= deadline:
                return [_received_copy(m, attribute_names) for m in taken]

    def _take(self, count: int, visibility_timeout: int) -> tuple[list[Message], list[Message]]:
        self._promote()
        max_receives = (
            self.redrive_policy["maxReceiveCount"]
            if self.dead_letter_queue is not None and self.redrive_policy
            else None
        )
        oldest_kept_ms = unix_time_millis() - _retention_s(self) * 1000
        taken: list[_Entry] = []
        to_dead_letters: list[Message] = []
        while self._ready and len(taken) < count:
            _, token, entry = heapq.heappop(self._ready)
            if not self._current(entry, token):
                continue
            message = entry.message
            if max_receives is not None and message.approximate_receive_count >= max_receives:
                self._remove(entry)
                to_dead_letters.append(message)
                continue
            sent_ms = message.sent_timestamp
            if sent_ms is not None and sent_ms <= oldest_kept_ms:  # past retention: deleted
                self._remove(entry)
                continue
            self.pending_messages.add(message)
            message.mark_received(visibility_timeout=visibility_timeout)
            handle = str(message.receipt_handle)  # mark_received made a new one
            entry.handles.append(handle)
            self._by_receipt[handle] = entry
            taken.append(entry)
        for entry in taken:  # after the loop: one still visible is not taken twice
            self._place(entry)
        return [e.message for e in taken], to_dead_letters

    def change_visibility(self, receipt_handle: str, visibility_timeout: int) -> None:
        """``ChangeMessageVisibility`` by any receipt handle the message had.

        Raises:
            ReceiptHandleIsInvalid: no message of this queue has that handle.
            InvalidParameterValue: the message would stay hidden past 12 hours after its send.
        """
        with self._messages_lock:
            entry = self._by_receipt.get(receipt_handle)
            if entry is None:
                raise ReceiptHandleIsInvalid
            message = entry.message
            until_ms = unix_time_millis() + int(visibility_timeout) * 1000
            if until_ms - (message.sent_timestamp or 0) > MAX_VISIBILITY_TOTAL_MS:
                raise InvalidParameterValue(
                    f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. "
                    "Reason: Total VisibilityTimeout for the message is beyond the limit "
                    "[43200 seconds]"
                )
            message.change_visibility(visibility_timeout)
            if message.visible:
                self.pending_messages.discard(message)
            self._place(entry)
            self._messages_lock.notify_all()


# moto's dashboard (/moto-api/) files each model class under the second part of its module
# name, "local" here: file this one with the other SQS models.
model_data["sqs"]["IndexedQueue"] = IndexedQueue
if model_data.get("local", {}).get("IndexedQueue") is IndexedQueue:
    del model_data["local"]["IndexedQueue"]
    if not model_data["local"]:
        del model_data["local"]


def _retention_s(queue: Any) -> int:
    """A queue's ``MessageRetentionPeriod`` in seconds (set by moto from its attributes)."""
    return int(queue.message_retention_period)


def _received_copy(message: Message, attribute_names: list[str]) -> Message:
    """A shallow copy of ``message`` with only the asked-for message attributes, for the
    response (moto deep-copies, which also registers each copy in its dashboard list)."""
    copy = object.__new__(Message)
    copy.__dict__.update(message.__dict__)
    sqs_models._filter_message_attributes(copy, attribute_names)  # assigns a new dict
    return copy


def _receive_message(
    self: SQSBackend,
    queue_name: str,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None = None,
) -> list[Message]:
    queue = self.get_queue(queue_name)
    if not isinstance(queue, IndexedQueue):
        return list(
            _installed["receive_message"](
                self,
                queue_name,
                count,
                wait_seconds_timeout,
                visibility_timeout,
                message_attribute_names,
            )
        )
    return queue.receive(
        count, wait_seconds_timeout, visibility_timeout, message_attribute_names or []
    )


def _change_message_visibility(
    self: SQSBackend, queue_name: str, receipt_handle: str, visibility_timeout: int
) -> None:
    queue = self.get_queue(queue_name)
    if not isinstance(queue, IndexedQueue):
        _installed["change_message_visibility"](
            self, queue_name, receipt_handle, visibility_timeout
        )
        return
    queue.change_visibility(receipt_handle, visibility_timeout)


def _is_message_valid_based_on_retention_period(
    self: SQSBackend, queue_name: str, message: Message
) -> bool:
    retention_s = _retention_s(self.get_queue(queue_name))
    return bool(retention_s + (message.sent_timestamp or 0) / 1000 > unix_time())


def install() -> None:
    """Make moto's SQS create :class:`IndexedQueue` for standard queues and route the
    backend's receive and visibility changes through it. Idempotent; process-wide (moto's
    backends are). Queues made before it keep moto's own behaviour.

    Raises:
        moto_internals.MotoInternalsMissing: a backend or queue method this replaces or
            overrides is not where moto 5.2 has it; nothing is changed.
    """
    moto_internals.require("deploy/local/moto_sqs.py", [(sqs_models, MOTO_NAMES)])
    with _install_lock:
        if _installed:
            return
        _installed["Queue"] = sqs_models.Queue
        for name, replacement in (
            ("receive_message", _receive_message),
            ("change_message_visibility", _change_message_visibility),
            (
                "is_message_valid_based_on_retention_period",
                _is_message_valid_based_on_retention_period,
            ),
        ):
            _installed[name] = getattr(SQSBackend, name)
            setattr(SQSBackend, name, replacement)
        sqs_models.Queue = IndexedQueue  # type: ignore[misc]


def installed() -> bool:
    """Whether :func:`install` ran in this process."""
    return bool(_installed)
