# One image for web (gunicorn), worker, scheduler and the migrate job; see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CLOSELOOP_INSTANCE_PATH=/srv/closeloop/instance

RUN useradd --create-home --uid 10001 --user-group closeloop

WORKDIR /srv/closeloop

# Exactly the locked production set, every file checked against its hash (`make lock` writes
# requirements.txt); nothing is resolved here, and no development tool is installed.
COPY requirements.txt ./
RUN pip install --require-hashes -r requirements.txt

# Processes start in this directory, so they import the code from here (no install step) and
# the app finds migrations/ beside it; gunicorn reads gunicorn.conf.py from here too.
COPY app ./app
COPY workers ./workers
COPY migrations ./migrations
COPY gunicorn.conf.py ./
RUN mkdir -p instance && chown closeloop:closeloop instance

USER closeloop

EXPOSE 8000
CMD ["gunicorn", "app:create_app()"]
