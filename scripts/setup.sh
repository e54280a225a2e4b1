#!/usr/bin/env bash
# Installs what Testbed needs and is missing; a fast no-op when everything is present.
# System packages (apt), the orchestrator venv (the project, editable), then the Spark
# releases of the catalog (python -m resources.install). Everything lands under TESTBED_CACHE.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${TESTBED_CACHE:-$HOME/.cache/testbed}
venv=${TESTBED_VENV:-$cache/venv}
python=${PYTHON:-python3}
# prometheus* for the alerting release; chromium for the browser UI test (Playwright drives it);
# maven + the JDK resolve and compile the Debezium engine and Kafka (the CDC engines);
# iproute2 brings up loopback in the simulated Kubernetes cluster's network namespace;
# docker.io and debootstrap run the compose platform (its images are built here, FROM a Debian
# base made with debootstrap: no registry is reachable).
apt_packages=(postgresql libpostgresql-jdbc-java mariadb-server-core mariadb-client-core
              prometheus-alertmanager prometheus chromium maven openjdk-17-jdk-headless iproute2
              docker.io debootstrap)

log() { printf 'setup: %s\n' "$*"; }

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing system packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# mariadb-server-core ships no service user; MariaDB refuses to run as root without one.
if [ "$(id -u)" -eq 0 ] && ! id mysql >/dev/null 2>&1; then
  log "creating the mysql system user"
  useradd --system --user-group --no-create-home --shell /usr/sbin/nologin mysql
fi

if ! java -version 2>&1 | grep -q 'version "17'; then
  echo "setup: Java 17 is required (found: $(java -version 2>&1 | head -1 || echo none)); install openjdk-17-jre-headless" >&2
  exit 1
fi

mkdir -p "$cache"
if [ ! -x "$venv/bin/python" ]; then
  log "creating venv $venv"
  "$python" -m venv "$venv"
fi
# The editable install points at this checkout; redo it when the checkout or pyproject changes.
stamp="$venv/.testbed-stamp"
want="$here $(sha256sum "$here/pyproject.toml" | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "pip install -e $here[dev]"
  "$venv/bin/pip" install -q -e "$here[dev]"
  echo "$want" > "$stamp"
fi

"$venv/bin/python" -m resources.install
