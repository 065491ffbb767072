"""Per-customer ordering (G5): the one place that decides which message runs when.

Each customer's messages run one at a time, in the order submitted; at most
``concurrency`` customers run at once, so a burst from one customer never
holds up the others. A job whose run reports failure (its commit did not
land) goes back to the head of its customer's queue and the customer is held
for a backoff: nothing of theirs may overtake it.

The jobs are run by up to ``concurrency`` worker tasks, each taking the next
ready customer's next job as soon as it finishes one, and ending when no
customer is ready: under load a message costs no task of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Final, Generic, TypeVar

from routes.retry import Backoff

JobT = TypeVar("JobT")

logger = logging.getLogger(__name__)

DEFAULT_CONCURRENCY: Final = 32  # customers processed at once
COMMIT_RETRY: Final = Backoff(first=0.5, cap=30.0)  # after a failed commit


class CustomerQueues(Generic[JobT]):
    """FIFO queues per customer, worked off by at most ``concurrency`` tasks.

    ``run(job)`` returns ``True`` when the job is done (handled, or answered
    and set aside) and ``False`` when it must be tried again later; it
    should not raise (an exception counts as done, and is logged).
    ``customer_of(job)`` says whose queue a job joins.
    """

    def __init__(self, run: Callable[[JobT], Coroutine[Any, Any, bool]],
                 customer_of: Callable[[JobT], Hashable], *,
                 concurrency: int = DEFAULT_CONCURRENCY, retry: Backoff = COMMIT_RETRY) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self._run = run
        self._customer_of = customer_of
        self.concurrency = concurrency
        self.retry = retry
        self._waiting: dict[Hashable, deque[JobT]] = {}
        self._ready: deque[Hashable] = deque()  # waiting, and none of theirs running
        self._running: set[Hashable] = set()
        self._tasks: set[asyncio.Task[None]] = set()  # the workers, for drain and stop
        # Counted by the workers themselves: a task leaves _tasks only in a later
        # step of the loop than the one its worker ended in.
        self._workers = 0  # alive
        self._working = 0  # running a job (the others are about to take one)
        self._unstarted: set[asyncio.Task[None]] = set()  # created, first step not run
        self._failures: dict[Hashable, int] = {}  # failed runs in a row, per held customer
        self._stopping = False

    def __len__(self) -> int:
        """Customers with a job running or waiting."""
        return len(self._running | self._waiting.keys())

    @property
    def active(self) -> int:
        """Customers whose job is running right now."""
        return len(self._running)

    def submit(self, job: JobT) -> None:
        """Run ``job`` after the earlier jobs of its customer."""
        customer = self._customer_of(job)
        queue = self._waiting.get(customer)
        if queue is None:
            queue = self._waiting[customer] = deque()
            if customer not in self._running:
                self._ready.append(customer)
        queue.append(job)
        self._start_ready()

    async def drain(self) -> None:
        """Wait until every submitted job is done, including one held for a retry.

        Cancelling the wait leaves the jobs running (``asyncio.wait``, not
        ``gather``, which would cancel them).
        """
        while self._tasks or (not self._stopping and (self._running or self._waiting)):
            if self._tasks:
                await asyncio.wait(list(self._tasks))
                await asyncio.sleep(0)  # let done callbacks start what was waiting
            else:
                await asyncio.sleep(0.01)  # a customer held for a retry backoff

    async def stop(self) -> None:
        """Finish the jobs running now and start no more; the rest stay unstarted."""
        self._stopping = True
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    def _start_ready(self) -> None:
        """Start workers for the ready customers, up to ``concurrency`` running."""
        if self._stopping:
            return
        # Customers held for a retry count as running, with no worker of theirs.
        wanted = min(len(self._ready), self.concurrency - len(self._running))
        while self._workers - self._working < wanted:
            self._workers += 1
            task = asyncio.create_task(self._work())
            self._tasks.add(task)
            self._unstarted.add(task)
            task.add_done_callback(self._worker_done)

    def _worker_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task in self._unstarted:
            # Cancelled before its first step: it never counted itself out.
            self._unstarted.discard(task)
            self._workers -= 1
            self._start_ready()

    async def _work(self) -> None:
        """Run the ready customers' next jobs one after another until none is ready."""
        task = asyncio.current_task()
        if task is not None:
            self._unstarted.discard(task)
        try:
            await self._work_off()
        finally:
            self._workers -= 1

    async def _work_off(self) -> None:
        while (self._ready and not self._stopping
               and len(self._running) < self.concurrency):
            customer = self._ready.popleft()
            queue = self._waiting[customer]
            job = queue.popleft()
            if not queue:
                del self._waiting[customer]
            self._running.add(customer)
            self._working += 1
            try:
                done = await self._run(job)
            except Exception:
                logger.exception("a queued job raised; counted as done")
                done = True
            except BaseException:
                # Cancelled mid-run (the loop is shutting down): not done, so
                # first again when the queue is next worked (no worker is started
                # now, in a loop that may be closing); a commit it made is then
                # refused as already processed.
                self._waiting.setdefault(customer, deque()).appendleft(job)
                self._failures.pop(customer, None)
                self._requeue(customer)
                raise
            finally:
                self._working -= 1
            self._finished(customer, job, done)

    def _finished(self, customer: Hashable, job: JobT, done: bool) -> None:
        if not done:
            # Back to the head of the queue; the customer stays held until the
            # retry, so that nothing of theirs overtakes it (G5).
            failures = self._failures[customer] = self._failures.get(customer, 0) + 1
            self._waiting.setdefault(customer, deque()).appendleft(job)
            asyncio.get_running_loop().call_later(self.retry.delay(failures), self._release,
                                                  customer)
            return
        self._failures.pop(customer, None)
        self._requeue(customer)  # the worker that ran it takes the next ready one

    def _release(self, customer: Hashable) -> None:
        self._requeue(customer)
        self._start_ready()

    def _requeue(self, customer: Hashable) -> None:
        """``customer`` runs no more; ready again if a job of theirs waits."""
        self._running.discard(customer)
        if customer in self._waiting:
            self._ready.append(customer)
