# One image for web (gunicorn), worker, scheduler and the migrate job; see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CLOSELOOP_INSTANCE_PATH=/srv/closeloop/instance

RUN useradd --create-home --uid 10001 --user-group closeloop

WORKDIR /srv/closeloop

COPY pyproject.toml ./
COPY app ./app
COPY workers ./workers
RUN pip install .

# Processes start in this directory, so they import the package from here and the app finds
# migrations/ next to it (create_app looks for it beside the package).
COPY migrations ./migrations
RUN mkdir -p instance && chown closeloop:closeloop instance

USER closeloop

EXPOSE 8000
CMD ["gunicorn", "--bind=0.0.0.0:8000", "app:create_app()"]
