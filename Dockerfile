# One image for every platform process; docker-compose.yml picks the command per service.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

RUN useradd --system --create-home --uid 10001 sipplatform \
    && mkdir -p /app/var \
    && chown sipplatform:sipplatform /app/var
USER sipplatform

EXPOSE 8000 5060/udp 5060/tcp

CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "sipplatform.asgi:application"]
