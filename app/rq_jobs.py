"""RQ job operations that race other processes: a worker running and removing a job, a
send job taking another job off the queue, the reconciler clearing a stale one. RQ raises
when the job goes between two of our calls (InvalidJobOperation when it asks a job that is
no longer there for its status, ValueError from the execution records a run just left);
these helpers treat such a job as gone, which is what it is. None of the callers may fail
for it: a send job would leave rows it had claimed `sending` until their lease ran out, and
a reconciler pass would skip the rest of its work (make simulate caught both)."""

from __future__ import annotations

import logging

from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus

log = logging.getLogger(__name__)


def fetch(job_id: str, connection) -> Job | None:
    """The job, or None when Redis no longer has it."""
    try:
        return Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return None


def status(job: Job) -> JobStatus | None:
    """The job's status read now, or None when it is gone."""
    try:
        return job.get_status(refresh=True)
    except (NoSuchJobError, InvalidJobOperation):
        return None


def delete_quietly(job: Job) -> bool:
    """Delete the job; False when it went first (or a worker started it as we deleted it:
    such a job only finds nothing left to claim)."""
    try:
        job.delete()
        return True
    except (NoSuchJobError, InvalidJobOperation, ValueError) as exc:
        log.info("job %s was not deleted: %s", job.id, exc)
        return False
