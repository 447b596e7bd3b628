#!/usr/bin/env bash
# systemd_units_test.sh — the shipped units parse cleanly and keep the hardening and wiring operations rely on.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

UNITS=$WAGATE_SOURCE_DIR/systemd
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wagate-units-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# systemd-analyze verify checks every directive and reference; the binaries
# are not installed here, so ExecStart points at /bin/true in a copy.
if command -v systemd-analyze >/dev/null; then
  cp "$UNITS"/*.service "$UNITS"/*.socket "$UNITS"/*.timer "$UNITS"/*.target "$TMP"/
  sed -i 's|^ExecStart=/usr/local/bin/wagate-[a-z]*|ExecStart=/bin/true|' "$TMP"/*.service
  out=$(cd "$TMP" && systemd-analyze verify ./*.service ./*.socket ./*.timer ./*.target 2>&1) ||
    fail "systemd-analyze verify failed: $out"
  # Unknown directives and bad values are warnings: any output is a failure.
  [[ -z $out ]] || fail "systemd-analyze verify complains: $out"
  pass "systemd-analyze verify: no complaint about any unit"
else
  echo "skip [$TEST_NAME]: systemd-analyze not installed"
fi

value_of() { grep -E "^$2=" "$UNITS/$1" | tail -n 1 | cut -d= -f2-; }

for g in api inbound status links; do
  unit=wagate-$g.service
  assert_eq "/bin/kill -HUP \$MAINPID" "$(value_of "$unit" ExecReload)" "$unit: reload is HUP to the handler itself"
  assert_eq socket "$(value_of "$unit" StandardInput)" "$unit: gets the listening socket as fd 0"
  assert_eq journal "$(value_of "$unit" StandardOutput)" "$unit: stdout is not the socket"
  assert_eq "wagate-$g.socket" "$(value_of "$unit" Requires)" "$unit: requires its socket"
  assert_eq "/run/wagate/$g.sock" "$(value_of "wagate-$g.socket" ListenStream)" "wagate-$g.socket: path nginx uses"
  assert_eq 0660 "$(value_of "wagate-$g.socket" SocketMode)" "wagate-$g.socket: only owner and nginx's group"
done
for g in inbound status; do
  assert_contains "$(grep -E '^ReadWritePaths=' "$UNITS/wagate-$g.service")" "ReadWritePaths=/var/lib/wagate/spool" \
    "wagate-$g.service: may write the spool"
done
# The API and the links write nothing to disk but their Prometheus snapshot (a tmpfs under /run).
for unit in wagate-api.service wagate-links.service; do
  if grep -E '^ReadWritePaths=' "$UNITS/$unit" | grep -qv '^ReadWritePaths=/run/wagate/metrics$'; then
    fail "$unit may write to disk beyond /run/wagate/metrics"
  fi
done
for unit in wagate-api.service wagate-inbound.service wagate-status.service wagate-links.service wagate-sender.service \
  wagate-maint.service; do
  assert_contains "$(grep -E '^(RuntimeDirectory|ReadWritePaths)=' "$UNITS/$unit")" "/run/wagate/metrics" \
    "$unit: may publish its Prometheus snapshot"
done
pass "wagate-api.service and wagate-links.service write nowhere"

for unit in wagate-api.service wagate-inbound.service wagate-status.service wagate-links.service \
  wagate-sender.service wagate-maint.service; do
  for setting in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes CapabilityBoundingSet= \
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" SystemCallFilter=@system-service User=wagate \
    Environment=WAGATE_CONFIG=/etc/wagate/wagate.conf; do
    grep -qxF "$setting" "$UNITS/$unit" || fail "$unit lacks $setting"
  done
  if [[ $unit == wagate-links.service ]]; then
    # The public click handler never opens tenant secrets, so never gets the key.
    if grep -q '^LoadCredential=' "$UNITS/$unit"; then fail "$unit gets a credential it never uses"; fi
    grep -qxF Environment=WAGATE_MASTER_KEY_FILE= "$UNITS/$unit" || fail "$unit does not clear master_key_file"
  else
    grep -qxF LoadCredential=master.key:/etc/wagate/master.key "$UNITS/$unit" || fail "$unit lacks the master key"
  fi
  [[ $(head -n 1 "$UNITS/$unit") == "# $unit — "* ]] || fail "$unit lacks its header comment"
done
pass "every service is hardened and runs as wagate; all but wagate-links get the master key as a credential"

# The processes hold the master key and decrypted tenant tokens: no core
# file may ever carry them to disk (the processes also make themselves
# non-dumpable, see signals_test.sh). Memory and task ceilings bound what a
# runaway process can take from its neighbours; each says why its number.
for unit in wagate-api.service wagate-inbound.service wagate-status.service wagate-links.service \
  wagate-sender.service wagate-maint.service; do
  grep -qxF LimitCORE=0 "$UNITS/$unit" || fail "$unit lacks LimitCORE=0"
  for setting in MemoryMax TasksMax; do
    value=$(value_of "$unit" "$setting")
    [[ $value =~ ^[0-9]+[KMG]?$ ]] || fail "$unit: $setting is '$value', expected a number"
    above=$(grep -B1 -E "^$setting=" "$UNITS/$unit" | head -n 1)
    [[ $above == "#"* ]] || fail "$unit: $setting has no comment saying why $value"
  done
  # The ceiling must leave room for the threads a process starts at most:
  # request_threads (up to 256 accepting threads) is the handlers' largest.
  if [[ $unit != wagate-maint.service && $unit != wagate-sender.service ]]; then
    (($(value_of "$unit" TasksMax) > 256 + 16)) || fail "$unit: TasksMax below request_threads' maximum"
  fi
done
pass "no service can dump core; each has a documented MemoryMax and TasksMax"

assert_eq oneshot "$(value_of wagate-maint.service Type)" "maintenance runs once per timer tick"
for unit in wagate-api.socket wagate-inbound.socket wagate-status.socket wagate-links.socket wagate-api.service \
  wagate-inbound.service wagate-status.service wagate-links.service wagate-sender.service wagate-maint.timer; do
  grep -E '^Wants=' "$UNITS/wagate.target" | grep -qw "$unit" || fail "wagate.target does not pull in $unit"
done
pass "wagate.target pulls in every unit"
echo "PASS [$TEST_NAME]"
