# One image for every vhub service; the command picks the service (python -m services.<name>).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VHUB_LOG_FORMAT=json
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY vhub ./vhub
RUN pip install --no-cache-dir .
USER nobody
CMD ["python", "-m", "services.registry"]
