#!/usr/bin/env bash
# Makes PostgreSQL reachable for the tests when it can (make test runs it
# first). The tests use PAYKIT_TEST_DATABASE_URL when it is set, otherwise
# postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable; each run
# creates and drops its own database. Without a server the PostgreSQL tests
# skip, or fail when CI is set.
#
#   1. PAYKIT_TEST_DATABASE_URL set: nothing to do.
#   2. 127.0.0.1:5432 answers: nothing to do.
#   3. PostgreSQL installed (/etc/postgresql/<version>/main): start that
#      cluster with pg_ctlcluster and wait until it accepts connections.
#   4. Otherwise: a warning.
#
# It never fails: a missing database is the tests' business.
set -u

host=127.0.0.1
port=5432

if [[ -n "${PAYKIT_TEST_DATABASE_URL:-}" ]]; then
	exit 0
fi

ready() {
	if command -v pg_isready >/dev/null 2>&1; then
		pg_isready -q -h "$host" -p "$port" -t 1
	else
		# No client tools: is anything listening?
		(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
	fi
}

if ready; then
	exit 0
fi

if [[ -d /etc/postgresql ]] && [[ -n "$(ls /etc/postgresql 2>/dev/null)" ]]; then
	version=$(ls /etc/postgresql | sort -V | tail -n 1)
	echo "pgtest-env: starting PostgreSQL $version (cluster main)" >&2
	if ! pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2; then
		echo "pgtest-env: WARNING: could not start PostgreSQL $version; PostgreSQL tests will skip (or fail with CI set)" >&2
		exit 0
	fi
	for _ in $(seq 1 60); do
		if ready; then
			echo "pgtest-env: PostgreSQL is ready on $host:$port" >&2
			exit 0
		fi
		sleep 0.5
	done
	echo "pgtest-env: WARNING: PostgreSQL $version started but does not answer on $host:$port" >&2
	exit 0
fi

echo "pgtest-env: WARNING: no PostgreSQL on $host:$port and none installed; set PAYKIT_TEST_DATABASE_URL" \
	"to run the PostgreSQL tests (they skip locally, and fail when CI is set)" >&2
exit 0
