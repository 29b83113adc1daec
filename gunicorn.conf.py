"""gunicorn's settings for the web (read from the working directory: the image's /srv/closeloop).

- Logs: gunicorn's own lines (errors, the access log) go through the app's handler, so they
  share its format (LOG_FORMAT=json), masking and redaction; the access line names the request
  id the app answered with.
- Metrics: with PROMETHEUS_MULTIPROC_DIR every worker writes its counters there and /metrics
  adds them up. The directory is emptied when gunicorn starts (counters from an earlier run
  would otherwise be added to the new ones) and a dead worker's live gauges are dropped.
"""

import glob
import os

# Imported here, when the arbiter reads this file, never inside child_exit: that hook runs in
# the arbiter's SIGCHLD handling, and a second worker exiting during the first import (two
# workers reaching max_requests together) re-entered it half-initialised: ImportError, and
# the arbiter died ("Unhandled exception in main loop"), taking the site down.
from prometheus_client import multiprocess

from app import logs

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")  # noqa: S104 - in its container
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
timeout = 30
# Restart a worker after this many requests (0: never); bounds slow leaks.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10

logs.configure("web", handler=False)  # the role and request id on gunicorn's records too
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s'
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": os.environ.get("LOG_LEVEL", "INFO").upper(), "handlers": ["app"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["app"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["app"], "propagate": False},
    },
    "handlers": {
        "app": {"class": "app.logs.Handler", "log_format": os.environ.get("LOG_FORMAT", "text")}
    },
    "formatters": {},
}


def on_starting(server):
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
        for stale in glob.glob(os.path.join(path, "*.db")):
            os.remove(stale)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
