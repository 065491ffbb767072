"""CustomerQueues: one job per customer at a time, up to ``concurrency`` customers at once."""

from __future__ import annotations

import asyncio

from routes.conversation.queues import CustomerQueues
from routes.retry import Backoff


class Jobs:
    """Jobs ``(customer, n)`` that run until released, recording what ran when."""

    def __init__(self) -> None:
        self.started: list[tuple[str, int]] = []
        self.running: set[tuple[str, int]] = set()
        self.most_at_once = 0
        self.gates: dict[tuple[str, int], asyncio.Event] = {}
        self.fail_once: set[tuple[str, int]] = set()
        self.all_open = False

    def gate(self, job: tuple[str, int]) -> asyncio.Event:
        gate = self.gates.setdefault(job, asyncio.Event())
        if self.all_open:
            gate.set()
        return gate

    def open_all(self) -> None:
        self.all_open = True
        for gate in self.gates.values():
            gate.set()

    async def run(self, job: tuple[str, int]) -> bool:
        self.started.append(job)
        self.running.add(job)
        self.most_at_once = max(self.most_at_once, len(self.running))
        try:
            await self.gate(job).wait()
        finally:
            self.running.discard(job)
        if job in self.fail_once:
            self.fail_once.discard(job)
            self.gates.pop(job)  # a new gate for the retry, opened already
            self.gate(job).set()
            return False
        return True


def queues_for(jobs: Jobs, concurrency: int) -> CustomerQueues[tuple[str, int]]:
    return CustomerQueues(jobs.run, lambda job: job[0], concurrency=concurrency,
                          retry=Backoff(first=0.01, cap=0.01, jitter=0.0))


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_customer_ready_while_others_run_starts_at_once() -> None:
    jobs = Jobs()
    queues = queues_for(jobs, concurrency=4)
    for customer in "abc":
        queues.submit((customer, 1))
    await settle()
    assert jobs.running == {("a", 1), ("b", 1), ("c", 1)}
    queues.submit(("d", 1))  # a fourth place is free: it need not wait for the others
    await settle()
    assert ("d", 1) in jobs.running
    queues.submit(("e", 1))  # no place left
    await settle()
    assert ("e", 1) not in jobs.running and queues.active == 4
    jobs.open_all()
    await asyncio.wait_for(queues.drain(), 5)
    assert jobs.most_at_once == 4 and len(jobs.started) == 5


async def test_each_customer_runs_in_order_and_a_failed_job_goes_first_again() -> None:
    jobs = Jobs()
    queues = queues_for(jobs, concurrency=2)
    jobs.fail_once.add(("a", 1))
    for n in range(1, 4):
        for customer in "ab":
            queues.submit((customer, n))
            jobs.gate((customer, n)).set()
    await asyncio.wait_for(queues.drain(), 5)
    for customer in "ab":
        assert [n for who, n in jobs.started if who == customer] == (
            [1, 1, 2, 3] if customer == "a" else [1, 2, 3])
    assert jobs.most_at_once <= 2
    assert len(queues) == 0


async def test_a_job_that_raises_counts_as_done_and_the_queue_goes_on() -> None:
    ran: list[int] = []

    async def run(n: int) -> bool:
        ran.append(n)
        if n == 1:
            raise RuntimeError("a bug")
        return True

    queues: CustomerQueues[int] = CustomerQueues(run, lambda n: "one customer")
    for n in range(1, 4):
        queues.submit(n)
    await asyncio.wait_for(queues.drain(), 5)
    assert ran == [1, 2, 3]


async def test_a_job_submitted_as_the_last_worker_ends_is_still_run() -> None:
    # The worker returns, but its task leaves the set of tasks only in a later
    # step of the loop (done callbacks are scheduled): a job submitted in between
    # must not be left waiting for a worker that is gone (it was, until the next
    # submit — for ever in a quiet restaurant).
    jobs = Jobs()
    queues = queues_for(jobs, concurrency=1)
    queues.submit(("a", 1))
    await settle()
    jobs.gate(("a", 1)).set()
    await asyncio.sleep(0)  # the worker finishes a's job and ends in this step
    queues.submit(("b", 1))
    jobs.gate(("b", 1)).set()
    await asyncio.wait_for(queues.drain(), 2)
    assert jobs.started == [("a", 1), ("b", 1)]


async def test_a_worker_cancelled_before_it_started_does_not_stop_the_queue() -> None:
    # Every task cancelled at once (a loop shutting down, say) can catch a
    # worker before its first step; later jobs must still get a worker.
    jobs = Jobs()
    jobs.open_all()
    queues = queues_for(jobs, concurrency=1)
    queues.submit(("a", 1))
    for task in list(queues._tasks):
        task.cancel()
    await settle()
    queues.submit(("b", 1))
    await asyncio.wait_for(queues.drain(), 2)
    assert jobs.started == [("a", 1), ("b", 1)]  # a's job was still waiting, not lost


async def test_cancelling_a_drain_leaves_the_running_jobs_running() -> None:
    jobs = Jobs()
    queues = queues_for(jobs, concurrency=2)
    for customer in "ab":
        queues.submit((customer, 1))
    await settle()
    waiting = asyncio.create_task(queues.drain())
    await settle()
    waiting.cancel()
    await settle()
    assert jobs.running == {("a", 1), ("b", 1)}  # not cancelled with the wait
    jobs.open_all()
    await asyncio.wait_for(queues.drain(), 2)
    assert sorted(jobs.started) == [("a", 1), ("b", 1)] and len(queues) == 0


async def test_a_job_cancelled_mid_run_is_first_again_not_lost() -> None:
    started: list[int] = []

    async def run(n: int) -> bool:
        started.append(n)
        if started.count(1) == 1 and n == 1:
            return False  # its commit failed: held for a retry
        if started.count(1) == 2 and n == 1:
            await asyncio.Event().wait()  # the retry runs until cancelled
        return True

    queues: CustomerQueues[int] = CustomerQueues(
        run, lambda n: "a", concurrency=1, retry=Backoff(first=0.01, cap=0.01, jitter=0.0))
    queues.submit(1)
    queues.submit(2)
    await asyncio.sleep(0.05)
    assert started == [1, 1]
    for task in list(queues._tasks):
        task.cancel()  # the loop shutting down, say
    await settle()
    assert not queues._tasks
    assert queues._failures == {}  # no stale count to lengthen a later backoff
    queues.submit(3)
    await asyncio.wait_for(queues.drain(), 2)
    assert started == [1, 1, 1, 2, 3]  # 1 ran again, before the rest
