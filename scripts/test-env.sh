# Sourced by `make test`: run the suite on PostgreSQL and Redis when they answer.
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/sipplatform}"
fi
if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
fi
