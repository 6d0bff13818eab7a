#!/usr/bin/env bash
# Installs and starts what fleetscore's tests need, then runs them.
#   scripts/test.sh              # go vet + go test ./...
#   scripts/test.sh -run Collect # extra arguments go to `go test`
#   scripts/test.sh --stress     # the collect and postgres suites 5 times in a
#                                # row, each CPU kept busy by a spinner (CI runs
#                                # the normal mode)
# Safe to run again: every step checks first and does nothing when done.
set -euo pipefail
cd "$(dirname "$0")/.."

stress=
if [ "${1:-}" = "--stress" ]; then stress=1; shift; fi

say() { printf '==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Go: the version go.mod names. The machine's toolchain is used when it is
# new enough; otherwise GOTOOLCHAIN=auto fetches the right one from the
# module proxy.
if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then export PATH=/usr/local/go/bin:$PATH
  else echo "Go 1.26 or newer is needed: https://go.dev/dl/ (or apt-get install golang-go, then GOTOOLCHAIN=auto does the rest)" >&2; exit 1; fi
fi
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
say "$(go version)"

# openssl makes the PFX files the config tests read.
command -v openssl >/dev/null 2>&1 || apt_install openssl

# systemd-analyze, for deploy/'s unit tests (verify, and security
# --offline=yes for the exposure score): Debian's systemd package. Installing
# it starts nothing where systemd is not PID 1 (a container).
command -v systemd-analyze >/dev/null 2>&1 || apt_install systemd

# Chromium, for the dashboard's browser tests (server/pages_test.go, driven
# by chromedp): Debian's package, at /usr/bin/chromium. The tests fail, not
# skip, without it.
[ -x /usr/bin/chromium ] || apt_install chromium

# poppler-utils (pdftotext, pdftoppm), for the client reports' tests, which
# read each PDF back (report/, server/). They fail, not skip, without it.
command -v pdftotext >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 || apt_install poppler-utils

# Azurite, the Azure Storage emulator, for the archive/ tests: installed from
# package.json's pin (azurite 3.35.0, the last that runs on Node 20) by npm ci,
# started on loopback unless something already answers on 127.0.0.1:10000,
# and left running for the next run (CI ends it with the machine).
azurite_port=10000
azurite_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$azurite_port") 2>/dev/null; }
if [ ! -x node_modules/.bin/azurite-blob ]; then
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  say "npm ci (Azurite, pinned in package-lock.json)"
  npm ci --no-audit --no-fund >/dev/null
fi
if ! azurite_answers; then
  azurite_dir="${TMPDIR:-/tmp}/fleetscore-azurite"
  mkdir -p "$azurite_dir"
  say "starting Azurite on 127.0.0.1:$azurite_port (data and log in $azurite_dir)"
  nohup node_modules/.bin/azurite-blob --blobHost 127.0.0.1 --blobPort "$azurite_port" --location "$azurite_dir" \
    --skipApiVersionCheck --disableTelemetry --silent </dev/null >"$azurite_dir/azurite.log" 2>&1 &
  for _ in $(seq 100); do azurite_answers && break; sleep 0.2; done
  azurite_answers || { echo "Azurite did not answer on 127.0.0.1:$azurite_port within 20 s; see $azurite_dir/azurite.log" >&2; exit 1; }
fi
# Azurite's documented development account; the key is public.
export FLEETSCORE_TEST_AZURITE="${FLEETSCORE_TEST_AZURITE:-DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$azurite_port/devstoreaccount1;}"

# PostgreSQL, for the postgres/ store and the tests where several collectors
# share one database: each test creates its own throwaway database on the
# server FLEETSCORE_TEST_POSTGRES names, and drops it. When that is unset: the
# server on 127.0.0.1:5432 if the postgres role gets in without a password;
# else the machine's cluster, started (PostgreSQL is installed first if
# missing); else, when that cluster wants a password (a fresh install does), a
# throwaway cluster of our own (initdb, trust, loopback only, port 55432) under
# $TMPDIR. Whatever is started is left running for the next run.
pg_dsn() { echo "postgres://postgres@127.0.0.1:$1/postgres?sslmode=disable"; }
pg_works() { psql "$(pg_dsn "$1")" -Atqc 'SELECT 1' >/dev/null 2>&1; }
if [ -z "${FLEETSCORE_TEST_POSTGRES:-}" ]; then
  command -v psql >/dev/null 2>&1 && command -v pg_isready >/dev/null 2>&1 || apt_install postgresql
  pg_port=5432
  if ! pg_works $pg_port && ! pg_isready -q -h 127.0.0.1 -p $pg_port; then
    ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || apt_install postgresql
    for v in $(ls /etc/postgresql 2>/dev/null); do
      say "starting PostgreSQL $v (cluster main)"
      as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
    done
    for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p $pg_port && break; sleep 0.2; done
  fi
  if ! pg_works $pg_port; then
    pg_port=55432
    if ! pg_works $pg_port; then
      pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
      pg_dir="${TMPDIR:-/tmp}/fleetscore-postgres"
      # initdb refuses to run as root: then the cluster is the postgres user's.
      pg_run() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi; }
      if [ ! -f "$pg_dir/data/PG_VERSION" ]; then
        say "creating a throwaway PostgreSQL cluster in $pg_dir"
        rm -rf "$pg_dir" && mkdir -p "$pg_dir"
        if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$pg_dir"; fi
        pg_run "'$pg_bin/initdb' -D '$pg_dir/data' -A trust -U postgres -E UTF8" >"$pg_dir/initdb.log"
      fi
      say "starting the throwaway PostgreSQL cluster on 127.0.0.1:$pg_port (log in $pg_dir/log)"
      pg_run "'$pg_bin/pg_ctl' -D '$pg_dir/data' -l '$pg_dir/log' -w -o '-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off' start" >/dev/null
      pg_works $pg_port || { echo "PostgreSQL did not start on 127.0.0.1:$pg_port; see $pg_dir/log" >&2; exit 1; }
    fi
  fi
  export FLEETSCORE_TEST_POSTGRES="$(pg_dsn $pg_port)"
fi
say "PostgreSQL for the tests: $(printf '%s' "$FLEETSCORE_TEST_POSTGRES" | sed -E 's#(://[^:/@]*):[^@]*@#\1:REDACTED@#')"

# --stress: the suites whose instances share leases, on a machine as busy as
# a loaded CI runner. The tests are compiled first, so that the spinners slow
# the tests, not the compiler; the spinners end with the script, however it ends.
if [ -n "$stress" ]; then
  go test -count=1 -run '^$' ./collect ./postgres >/dev/null
  cores=$(nproc)
  spinners=()
  trap 'kill "${spinners[@]}" 2>/dev/null || true' EXIT
  for _ in $(seq "$cores"); do yes >/dev/null & spinners+=($!); done
  say "stress: go test -count=5 ./collect ./postgres next to $cores CPU spinners"
  go test -count=5 -timeout 60m "$@" ./collect ./postgres
  exit 0
fi

# promtool, for the test that checks /metrics with `promtool check metrics`
# (TestPromtoolChecksMetrics in server/metrics_test.go): Debian's prometheus package. Where systemd runs,
# the package starts prometheus and its node exporter: they are stopped and
# disabled again (nothing of fleetscore needs them). The test fails, not
# skips, when FLEETSCORE_TEST_PROMTOOL names a promtool that is not there.
if [ ! -x /usr/bin/promtool ]; then
  apt_install prometheus
  if [ -d /run/systemd/system ]; then
    as_root systemctl disable --now prometheus.service prometheus-node-exporter.service >/dev/null 2>&1 || true
  fi
fi
export FLEETSCORE_TEST_PROMTOOL=/usr/bin/promtool

say "go vet ./... and staticcheck (pinned in go.mod's tool block)"
go vet ./...
go tool staticcheck ./...

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2; echo "$unformatted" >&2; exit 1
fi

say "go test ./..."
go test -count=1 -timeout 15m "$@" ./...

# Every fuzz target, for a count of inputs about a minute's worth on a busy
# 2-core machine (FLEETSCORE_FUZZTIME, e.g. 5m or 100000x, overrides them
# all): the config parser, the API's parameters, the redirect after sign-in,
# the CSV writer. Counts, not durations: with a duration, Go 1.26's fuzz
# coordinator can report "context deadline exceeded" as a failure when the
# time runs out under CPU contention, with no failing input (golang/go#75804,
# fixed in Go 1.27); a count has no deadline to race.
for target in config:FuzzParse:30000x server:FuzzAPIParams:8000x server:FuzzSafeNext:50000x server:FuzzCSVCell:150000x; do
  pkg=${target%%:*}; rest=${target#*:}; name=${rest%%:*}
  fuzztime="${FLEETSCORE_FUZZTIME:-${rest#*:}}"
  say "fuzzing $name for $fuzztime"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "./$pkg/"
done
