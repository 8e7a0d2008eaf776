# Source this file: starts a throw-away PostgreSQL server as the postgres user on a free local
# port, exports MODELBOARD_TEST_PG for the tests, and stops the server when the shell exits.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
  echo "installing the PostgreSQL server (Debian package postgresql)"
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
pg_dir=$(mktemp -d /tmp/modelboard-pg.XXXXXX)
chown postgres "$pg_dir"
pg_port=${MODELBOARD_PG_PORT:-55432}
run_as_postgres() { su postgres -s /bin/sh -c "$*"; }
run_as_postgres "'$pg_bin/initdb' -D '$pg_dir/data' -U postgres -A trust >'$pg_dir/initdb.log' 2>&1" \
  || { cat "$pg_dir/initdb.log"; return 1; }
run_as_postgres "'$pg_bin/pg_ctl' -D '$pg_dir/data' -l '$pg_dir/server.log' -w \
  -o \"-p $pg_port -k '$pg_dir' -c listen_addresses=127.0.0.1 -c max_connections=200\" start" >/dev/null \
  || { cat "$pg_dir/server.log"; return 1; }
run_as_postgres "'$pg_bin/createdb' -h 127.0.0.1 -p $pg_port -U postgres modelboard_test"
export MODELBOARD_TEST_PG="postgresql+psycopg://postgres@127.0.0.1:$pg_port/modelboard_test"
stop_postgres() { run_as_postgres "'$pg_bin/pg_ctl' -D '$pg_dir/data' -m fast stop" >/dev/null 2>&1; rm -rf "$pg_dir"; }
trap stop_postgres EXIT
echo "PostgreSQL ready: $MODELBOARD_TEST_PG"
