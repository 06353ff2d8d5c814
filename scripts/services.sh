#!/usr/bin/env bash
# Start PostgreSQL, MariaDB and Redis if they are down (commands from shared/machine-services.md).
set -uo pipefail

wait_for() {  # name, check command...
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "service $name did not come up" >&2
  return 1
}

if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi
if ! mariadb-admin -uroot -h127.0.0.1 ping >/dev/null 2>&1; then
  echo "starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi

status=0
wait_for postgresql pg_isready -h 127.0.0.1 -p 5432 || status=1
wait_for mariadb mariadb-admin -uroot -h127.0.0.1 ping || status=1
wait_for redis redis-cli -h 127.0.0.1 -p 6379 ping || status=1
exit $status
