"""The Slack delivery ledger: claims, owners alive or dead, expiry, and other processes."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.slack_ledger import KEEP_S, STALE_AFTER_S, Claim, DeliveryLedger, ledger_path


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "feedback.slack.sqlite3"


@pytest.fixture
def ledgers(path: Path, clock: FakeClock) -> Iterator[list[DeliveryLedger]]:
    """Two instances on one file, as two workers on one host have."""
    opened = [DeliveryLedger(path, clock=clock), DeliveryLedger(path, clock=clock)]
    yield opened
    for ledger in opened:
        ledger.close()


def rows(path: Path, table: str) -> int:
    with sqlite3.connect(path) as db:
        (count,) = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
    return int(count)


def child(path: Path, code: str) -> subprocess.Popen[str]:
    """A separate Python process running `code` with `ledger` open on `path`."""
    script = "import sys, time\nfrom pathlib import Path\nfrom api.slack_ledger import *\n"
    # Atomicity is under test, not the lock wait: a loaded machine (CI running beside other
    # jobs) may hold a writer past the 2 s a real delivery may wait.
    script += "import api.slack_ledger\napi.slack_ledger.BUSY_TIMEOUT_MS = 60_000\n"
    script += f"ledger = DeliveryLedger(Path({str(path)!r}))\n" + textwrap.dedent(code)
    return subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_the_ledger_lives_beside_the_feedback_store(tmp_path: Path) -> None:
    assert ledger_path(tmp_path / "feedback.sqlite3") == tmp_path / "feedback.slack.sqlite3"


def test_a_first_claim_is_new_and_any_other_while_in_progress_is_not(
    ledgers: list[DeliveryLedger],
) -> None:
    first, second = ledgers
    assert first.claim("event:E1") is Claim.NEW
    assert first.claim("event:E1") is Claim.IN_PROGRESS
    assert second.claim("event:E1") is Claim.IN_PROGRESS
    assert not Claim.IN_PROGRESS.mine
    assert second.claim("event:E2") is Claim.NEW


def test_once_finished_a_delivery_is_done_for_every_instance(
    ledgers: list[DeliveryLedger], clock: FakeClock
) -> None:
    first, second = ledgers
    first.claim("event:E1")
    first.finish("event:E1")
    assert first.claim("event:E1") is Claim.DONE
    assert second.claim("event:E1") is Claim.DONE
    first.close()
    clock.now += STALE_AFTER_S * 10  # a dead owner does not reopen what it answered
    assert second.claim("event:E1") is Claim.DONE


def test_a_claim_whose_owner_stopped_beating_is_taken_over_once(
    ledgers: list[DeliveryLedger], clock: FakeClock, path: Path
) -> None:
    first, second = ledgers
    first.claim("event:E1")
    clock.now += STALE_AFTER_S - 1
    assert second.claim("event:E1") is Claim.IN_PROGRESS  # slow, not yet dead
    clock.now += 2
    assert second.claim("event:E1") is Claim.TAKEN_OVER
    assert second.claim("event:E1") is Claim.IN_PROGRESS  # now second's, and second is alive
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT owner, attempts FROM deliveries").fetchall() == [
            (second.instance_id, 2)
        ]


def test_a_claim_of_an_instance_that_closed_is_taken_over_at_once(
    ledgers: list[DeliveryLedger],
) -> None:
    first, second = ledgers
    first.claim("event:E1")
    first.close()
    assert second.claim("event:E1") is Claim.TAKEN_OVER


def test_the_claim_of_a_killed_process_is_taken_over_at_once_while_a_live_ones_is_not(
    path: Path,
) -> None:
    code = """
    print(ledger.claim(sys.argv[1] if len(sys.argv) > 1 else "event:E1"), flush=True)
    time.sleep(60)
    """
    live, killed = child(path, code), child(path, code.replace("E1", "E2"))
    try:
        assert live.stdout is not None and killed.stdout is not None
        assert live.stdout.readline().strip() == killed.stdout.readline().strip() == "new"
        killed.kill()
        killed.wait()
        ledger = DeliveryLedger(path)
        # Its heartbeat is fresh, but its process is gone: Slack's immediate retry is answered.
        assert ledger.claim("event:E2") is Claim.TAKEN_OVER
        assert ledger.claim("event:E1") is Claim.IN_PROGRESS
        ledger.close()
    finally:
        live.kill()
        live.wait()
        killed.wait()


def test_a_released_claim_is_new_again_for_the_next_delivery(
    ledgers: list[DeliveryLedger],
) -> None:
    first, second = ledgers
    first.claim("message:D1:1.000100")
    second.release("message:D1:1.000100")  # not second's to give up
    assert second.claim("message:D1:1.000100") is Claim.IN_PROGRESS
    first.release("message:D1:1.000100")
    assert second.claim("message:D1:1.000100") is Claim.NEW


def test_an_owner_thought_dead_that_posts_after_all_still_marks_the_delivery_done(
    ledgers: list[DeliveryLedger], clock: FakeClock
) -> None:
    first, second = ledgers
    first.claim("event:E1")
    clock.now += STALE_AFTER_S + 1
    assert second.claim("event:E1") is Claim.TAKEN_OVER
    first.finish("event:E1")
    assert second.claim("event:E1") is Claim.DONE


def test_rows_expire_after_the_retry_window_so_the_table_stays_bounded(
    ledgers: list[DeliveryLedger], clock: FakeClock, path: Path
) -> None:
    first, second = ledgers
    for n in range(50):
        first.claim(f"event:E{n}")
        first.finish(f"event:E{n}")
    second.close()
    clock.now += KEEP_S - 1
    first.beat()
    assert rows(path, "deliveries") == 50  # a late retry of a posted event is still known
    first.claim("event:fresh")
    clock.now += 2
    first.beat()
    assert rows(path, "deliveries") == 1
    assert rows(path, "instances") == 1  # the closed instance's row went with its close
    assert first.claim("event:E0") is Claim.NEW  # Slack stopped retrying long ago


def test_claims_are_atomic_across_processes(path: Path) -> None:
    keys = 150
    go = path.with_name("go")
    code = f"""
    print("ready", flush=True)
    while not Path({str(go)!r}).exists():
        time.sleep(0.005)
    for n in range({keys}):
        for key in (f"event:E{{n}}", f"message:C1:{{n}}"):
            if ledger.claim(key).mine:
                print(key)
                ledger.finish(key)  # or a worker that exits first would leave it to the others
        time.sleep(0.001)  # SQLite's busy wait backs off: let the others in, as traffic does
    """
    workers = [child(path, code) for _ in range(4)]
    for worker in workers:  # all started, so all race
        assert worker.stdout is not None and worker.stdout.readline() == "ready\n"
    go.touch()
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0, 0], [e for _, e in outputs]
    won = [key for out, _ in outputs for key in out.split()]
    assert len(won) == len(set(won)) == 2 * keys
    assert sum(bool(out.strip()) for out, _ in outputs) > 1  # they did race


def test_the_file_is_in_wal_mode(ledgers: list[DeliveryLedger], path: Path) -> None:
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_running_keeps_the_heartbeat_fresh_and_leaves_on_exit(path: Path) -> None:
    ledger = DeliveryLedger(path, heartbeat_s=0.01)

    def heartbeat() -> float | None:
        with sqlite3.connect(path) as db:
            row = db.execute(
                "SELECT heartbeat_at FROM instances WHERE id = ?", (ledger.instance_id,)
            ).fetchone()
        return None if row is None else float(row[0])

    async with ledger.running():
        first_id, first_beat = ledger.instance_id, heartbeat()
        assert first_beat is not None
        deadline = time.monotonic() + 10
        while heartbeat() == first_beat:
            assert time.monotonic() < deadline, "the heartbeat never moved"
            await asyncio.sleep(0.01)
        assert await ledger.aclaim("event:E1") is Claim.NEW
    assert heartbeat() is None  # its claims are free for others at once
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        ledger.claim("event:E2")
    async with ledger.running():  # an app started again joins as a new instance
        assert ledger.instance_id != first_id
        assert await ledger.aclaim("event:E1") is Claim.TAKEN_OVER
        await ledger.afinish("event:E1")
        assert await ledger.aclaim("event:E1") is Claim.DONE
