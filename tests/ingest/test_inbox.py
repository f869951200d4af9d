"""The bounded hand-over between the network thread and the writer."""

from __future__ import annotations

import threading
import time

from smartfactory.edge.mqtt import Message
from smartfactory.ingest.inbox import Inbox
from tests.conftest import wait_until


def msg(i: int, size: int = 10) -> Message:
    return Message(f"t/{i}", b"x" * size, 1, False, i, time.time())


def test_fifo_and_byte_accounting() -> None:
    inbox = Inbox(max_messages=100, max_bytes=10_000)
    for i in range(5):
        assert inbox.put(msg(i, size=i))
    assert len(inbox) == 5
    assert inbox.bytes == 0 + 1 + 2 + 3 + 4
    assert [m.mid for m in iter(inbox.get_nowait, None)] == [0, 1, 2, 3, 4]
    assert inbox.bytes == 0
    assert inbox.get(0.01) is None


def test_a_full_inbox_blocks_the_producer_until_the_consumer_takes() -> None:
    inbox = Inbox(max_messages=3, max_bytes=10_000)
    for i in range(3):
        inbox.put(msg(i))
    done = threading.Event()

    def produce() -> None:
        inbox.put(msg(3))
        done.set()

    threading.Thread(target=produce, daemon=True).start()
    assert not done.wait(0.2)  # back-pressure: the network thread waits
    first = inbox.get(1)
    assert first is not None
    assert first.mid == 0
    assert done.wait(1)
    assert [m.mid for m in iter(inbox.get_nowait, None)] == [1, 2, 3]


def test_the_byte_bound_applies_but_one_big_message_always_fits() -> None:
    inbox = Inbox(max_messages=1000, max_bytes=100)
    assert inbox.put(msg(0, size=500))  # bigger than the bound, inbox empty: taken
    blocked = threading.Event()
    released = threading.Event()

    def produce() -> None:
        blocked.set()
        inbox.put(msg(1, size=10))
        released.set()

    threading.Thread(target=produce, daemon=True).start()
    assert blocked.wait(1)
    assert not released.wait(0.2)
    inbox.get_nowait()
    assert released.wait(1)


def test_a_waiting_consumer_wakes_for_a_new_message() -> None:
    inbox = Inbox(max_messages=10, max_bytes=10_000)
    got: list[Message | None] = []
    consumer = threading.Thread(target=lambda: got.append(inbox.get(5)))
    consumer.start()
    assert wait_until(lambda: inbox._consumer_waiting, timeout=10)  # the consumer is asleep in get()
    started = time.monotonic()
    inbox.put(msg(7))
    consumer.join(5)
    assert time.monotonic() - started < 1.0
    assert got[0] is not None
    assert got[0].mid == 7


def test_close_releases_a_blocked_producer_and_refuses_new_messages() -> None:
    inbox = Inbox(max_messages=1, max_bytes=10_000)
    inbox.put(msg(0))
    results: list[bool] = []
    producer = threading.Thread(target=lambda: results.append(inbox.put(msg(1))))
    producer.start()
    assert wait_until(lambda: inbox._producer_waiting, timeout=10)  # the producer is blocked in put()
    inbox.close()
    producer.join(2)
    assert results == [False]  # not taken, so never acknowledged: the broker keeps it
    assert not inbox.put(msg(2))
    remaining = inbox.get_nowait()
    assert remaining is not None
    assert remaining.mid == 0  # what was taken before close is still written


def test_many_messages_through_two_threads_arrive_in_order() -> None:
    inbox = Inbox(max_messages=50, max_bytes=1_000_000)
    count = 20_000
    got: list[int] = []

    def consume() -> None:
        while len(got) < count:
            message = inbox.get(2)
            if message is not None:
                got.append(message.mid)

    consumer = threading.Thread(target=consume)
    consumer.start()
    for i in range(count):
        inbox.put(msg(i))
    consumer.join(20)
    assert got == list(range(count))
