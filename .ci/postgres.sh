# Sourced by .ci/run: a PostgreSQL server in a temporary folder, reachable only through its Unix socket there,
# for the tests of sweeps shared through PostgreSQL. Exports HANDRNN_TEST_POSTGRES; the server stops on exit.
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(pg_bin)" ]; then
  echo "installing PostgreSQL (Debian package postgresql)" >&2
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq postgresql > /dev/null
fi
pg_dir=$(mktemp -d /tmp/handrnn-pg.XXXXXX)
as_pg=()
if [ "$(id -u)" = 0 ]; then  # the server refuses to run as root
  chown postgres: "$pg_dir"
  as_pg=(runuser -u postgres --)
fi
"${as_pg[@]}" "$(pg_bin)/initdb" -D "$pg_dir/data" -A trust -U handrnn > "$pg_dir/initdb.log"
"${as_pg[@]}" "$(pg_bin)/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w \
  -o "-c listen_addresses='' -k $pg_dir -p 54329" start > /dev/null
trap '"${as_pg[@]}" "$(pg_bin)/pg_ctl" -D "$pg_dir/data" -m fast stop > /dev/null; rm -rf "$pg_dir"' EXIT
export HANDRNN_TEST_POSTGRES="postgresql+psycopg2://handrnn@/postgres?host=$pg_dir&port=54329"
