"""Rate-limit counters shared by a server's workers (`portal.web.shared_limits`): a real file,
mapped by several storages and by several processes at once."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from portal.web import shared_limits
from portal.web.ratelimit import counts_in_each_process
from portal.web.shared_limits import SLOTS, SharedFileStorage, uri_for


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(shared_limits, "time", SimpleNamespace(time=clock.time))
    return clock


def test_counts_per_key_in_fixed_windows(tmp_path: Path, clock: Clock) -> None:
    storage = SharedFileStorage(uri_for(str(tmp_path / "limits")))
    assert storage.get("a") == 0
    assert storage.get_expiry("a") == clock.now
    assert [storage.incr("a", 60) for _ in range(3)] == [1, 2, 3]
    assert storage.incr("b", 60, amount=2) == 2
    assert storage.get("a") == 3
    assert storage.get_expiry("a") == clock.now + 60

    clock.now += 59.9
    assert storage.incr("a", 60) == 4  # the window started at the first hit
    clock.now += 0.1
    assert storage.get("a") == 0
    assert storage.incr("a", 60) == 1  # a new window
    assert storage.get_expiry("a") == clock.now + 60

    storage.clear("a")
    assert storage.get("a") == 0
    assert storage.get("b") == 0  # its window ended too
    storage.incr("b", 60)
    assert storage.reset() == 1
    assert storage.get("b") == 0
    assert storage.check()


def test_storages_on_one_file_share_their_counts(tmp_path: Path) -> None:
    uri = uri_for(str(tmp_path / "limits"))
    first, second = SharedFileStorage(uri), storage_from_string(uri)
    assert isinstance(second, SharedFileStorage)  # the scheme is registered with `limits`
    assert first.incr("client", 60) == 1
    assert second.incr("client", 60) == 2
    assert SharedFileStorage(uri).get("client") == 2

    three = parse("3 per minute")
    by_first, by_second = FixedWindowRateLimiter(first), FixedWindowRateLimiter(second)
    assert by_first.hit(three, "client")
    assert by_second.hit(three, "client")
    assert by_first.hit(three, "client")
    assert not by_second.hit(three, "client")  # the fourth, wherever it is counted
    assert by_first.get_window_stats(three, "client").remaining == 0


def test_a_key_shares_a_slot_when_all_its_slots_hold_live_keys(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nine keys whose slots all start at the same place: the ninth finds eight live ones.
    hashes = {f"k{n}": (n + 1) * SLOTS for n in range(9)}
    monkeypatch.setattr(shared_limits, "_hash", hashes.__getitem__)
    storage = SharedFileStorage(uri_for(str(tmp_path / "limits")))
    for n in range(8):
        assert storage.incr(f"k{n}", 60, amount=n + 1) == n + 1
    assert storage.incr("k8", 60) == 2  # counted with k0's hit: limited sooner, not later
    assert storage.get("k0") == 2
    storage.clear("k8")  # not its slot: nothing to clear
    assert storage.get("k0") == 2

    clock.now += 30
    assert storage.incr("k8", 60) == 3
    clock.now += 30  # every window is over: the slots are free again
    assert storage.incr("k8", 60) == 1
    assert storage.get("k0") == 0


def test_the_reads_after_a_hit_answer_from_it_once(tmp_path: Path) -> None:
    """A limit's headers read the count and the window's end just after the hit: from the
    hit, as this request left it. After those two reads, from the file again."""
    uri = uri_for(str(tmp_path / "limits"))
    mine, other = SharedFileStorage(uri), SharedFileStorage(uri)
    assert mine.incr("client", 60) == 1
    end = mine.get_expiry("client")  # consumes the hit
    mine.incr("client", 60)
    assert other.incr("client", 60) == 3  # another worker's hit meanwhile
    assert mine.get("client") == 2  # as this thread's hit left it
    assert mine.get_expiry("client") == end
    assert mine.get("client") == 3  # the hit is used once
    assert mine.get("other") == 0


def _hit_many(uri: str, key: str, threads: int, hits: int) -> None:
    storage = SharedFileStorage(uri)

    def hit() -> None:
        for _ in range(hits):
            storage.incr(key, 600)

    workers = [threading.Thread(target=hit) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def test_processes_and_threads_lose_no_hit(tmp_path: Path) -> None:
    uri = uri_for(str(tmp_path / "limits"))
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_hit_many, args=(uri, "client", 4, 500)) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    assert SharedFileStorage(uri).get("client") == 3 * 4 * 500


def test_a_uri_without_a_path_is_refused() -> None:
    with pytest.raises(ValueError, match="needs the path of a file"):
        SharedFileStorage(f"{shared_limits.SCHEME}://")


@pytest.mark.parametrize(
    ("settings", "shared"),
    [
        ({"RATELIMIT_STORAGE_URI": "memory://"}, True),
        ({"RATELIMIT_STORAGE_URI": "portal-memory://"}, True),  # as `create_app` rewrites it
        ({"RATELIMIT_STORAGE_URI": "redis://cache:6379"}, False),  # already shared
        ({"RATELIMIT_STORAGE_URI": "memory://", "RATELIMIT_STRATEGY": "moving-window"}, False),
    ],
)
def test_portal_serve_shares_only_per_process_fixed_window_counts(
    settings: dict[str, str], shared: bool
) -> None:
    assert counts_in_each_process(settings) is shared
