#!/usr/bin/env bash
# The systemd units in docs/systemd/ are well formed and keep their hardening: each parses as
# INI ([Section] or Key=Value), runs `cellgate run --config /etc/cellgate/...toml` as a named
# user with NoNewPrivileges, ProtectSystem=strict and a system call filter; the release guard
# runs as a different user from the gateway (the filter), holds no AF_PACKET socket and stays on
# loopback. If systemd-analyze is installed, each unit (ExecStart pointed at /bin/true) also
# passes `systemd-analyze verify` without a complaint about it.
# Usage: systemd_units.sh SOURCE_DIR
set -euo pipefail
src="${1:?usage: systemd_units.sh SOURCE_DIR}"
dir="$src/docs/systemd"

fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }

# Values of KEY in FILE (every occurrence, in order; leading/trailing blanks trimmed).
values() {
  sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*//p" "$1" | sed 's/[[:space:]]*$//'
}

shopt -s nullglob
units=("$dir"/*.service)
[ "${#units[@]}" -gt 0 ] || { echo "FAIL: no units in $dir" >&2; exit 1; }
for role in gateway relay receiver guard; do
  [ -f "$dir/cellgate-$role@.service" ] || bad "docs/systemd/cellgate-$role@.service is missing"
done

for u in "${units[@]}"; do
  name=$(basename "$u")
  # INI: every line that is not blank or a comment is [Section] or Key=Value.
  n=0
  section=""
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    if [[ "$line" =~ ^[[:space:]]*$ ]] || [[ "$line" =~ ^[#\;] ]]; then
      continue
    elif [[ "$line" =~ ^\[[A-Za-z]+\]$ ]]; then
      section="$line"
    elif ! [[ "$line" =~ ^[A-Za-z][A-Za-z0-9]*=.*$ ]]; then
      bad "$name:$n: neither [Section] nor Key=Value: $line"
    elif [ -z "$section" ]; then
      bad "$name:$n: Key=Value before any [Section]: $line"
    elif [[ "$line" == *'\' ]]; then
      bad "$name:$n: line continuation (keep each setting on one line): $line"
    fi
  done <"$u"
  for s in '[Unit]' '[Service]' '[Install]'; do
    grep -qxF "$s" "$u" || bad "$name: no $s section"
  done

  [ "$(values "$u" NoNewPrivileges | tail -n1)" = yes ] || bad "$name: NoNewPrivileges=yes missing"
  [ "$(values "$u" ProtectSystem | tail -n1)" = strict ] || bad "$name: ProtectSystem=strict missing"
  [ -n "$(values "$u" SystemCallFilter)" ] || bad "$name: no SystemCallFilter="
  [ -n "$(values "$u" User | tail -n1)" ] || bad "$name: no User="
  [ "$(grep '^CapabilityBoundingSet=' "$u" | tail -n1)" = "CapabilityBoundingSet=" ] ||
    bad "$name: CapabilityBoundingSet= is not empty"

  # Truthful: it runs the cellgate binary on a config under /etc/cellgate named by the instance.
  exec_start=$(values "$u" ExecStart | tail -n1)
  if ! [[ "$exec_start" =~ ^/usr/local/bin/cellgate\ run\ --config\ /etc/cellgate/%i[^[:space:]]*\.toml$ ]]; then
    bad "$name: ExecStart is not 'cellgate run --config /etc/cellgate/%i....toml': $exec_start"
  fi
  # Every address family it allows is an allow-list entry, never AF_PACKET (raw frames).
  families=$(values "$u" RestrictAddressFamilies | tr '\n' ' ')
  [ -n "$families" ] || bad "$name: no RestrictAddressFamilies="
  case " $families " in *' ~'*) bad "$name: RestrictAddressFamilies is a deny-list: $families" ;; esac
  case " $families " in *' AF_PACKET '*) bad "$name: allows AF_PACKET" ;; esac
  # AF_NETLINK only where a ZeroMQ socket is bound (libzmq's bind reads the interfaces over
  # NETLINK_ROUTE and aborts without it), and the unit says so; the relay binds none.
  case " $families " in
    *' AF_NETLINK '*)
      grep -q 'getifaddrs' "$u" || bad "$name: allows AF_NETLINK without saying why"
      [ "$name" != "cellgate-relay@.service" ] || bad "$name: allows AF_NETLINK but binds no ZeroMQ socket"
      ;;
    *)
      case "$name" in
        cellgate-gateway@.service | cellgate-receiver@.service | cellgate-guard@.service)
          bad "$name: binds a ZeroMQ socket, which needs AF_NETLINK (getifaddrs)" ;;
      esac
      ;;
  esac
done

# The guard runs as its own user, never the filter's, and stays on loopback.
guard="$dir/cellgate-guard@.service"
gateway="$dir/cellgate-gateway@.service"
if [ -f "$guard" ] && [ -f "$gateway" ]; then
  gu=$(values "$guard" User | tail -n1)
  fu=$(values "$gateway" User | tail -n1)
  [ -n "$gu" ] && [ "$gu" != "$fu" ] || bad "guard runs as the gateway's user ($gu)"
  gg=$(values "$guard" Group | tail -n1)
  fg=$(values "$gateway" Group | tail -n1)
  [ -n "$gg" ] && [ "$gg" != "$fg" ] || bad "guard runs in the gateway's group ($gg)"
  # Allowed: the loopback TCP listeners (AF_INET, AF_INET6), the journal (AF_UNIX), and the
  # NETLINK_ROUTE socket libzmq's bind needs for getifaddrs() (the unit says why). Nothing else.
  for f in $(values "$guard" RestrictAddressFamilies); do
    case "$f" in
      AF_UNIX | AF_INET | AF_INET6) ;;
      AF_NETLINK)
        grep -q 'getifaddrs' "$guard" || bad "guard allows AF_NETLINK without saying why"
        ;;
      *) bad "guard allows address family $f" ;;
    esac
  done
  [ "$(values "$guard" IPAddressDeny | tail -n1)" = any ] || bad "guard: IPAddressDeny=any missing"
  [ "$(values "$guard" IPAddressAllow | tail -n1)" = localhost ] || bad "guard: IPAddressAllow=localhost missing"
  [ "$(values "$guard" MemoryDenyWriteExecute | tail -n1)" = yes ] || bad "guard: MemoryDenyWriteExecute=yes missing"
  [ "$(values "$guard" UMask | tail -n1)" = 0077 ] || bad "guard: UMask=0077 missing"
  [ -n "$(values "$guard" LimitMEMLOCK | tail -n1)" ] || bad "guard: no LimitMEMLOCK"
  # It writes only its own store, which is not the gateway's.
  rw=$(values "$guard" ReadWritePaths | tr '\n' ' ')
  [ "$rw" = "/var/lib/cellgate-guard/%i " ] || bad "guard: ReadWritePaths is not only its store: $rw"
  [ "$rw" != "$(values "$gateway" ReadWritePaths | tr '\n' ' ')" ] || bad "guard shares the gateway's store"
  # The filter starts after the guard.
  grep -qE '^Wants=.*cellgate-guard@%i\.service' "$gateway" || bad "gateway unit lacks Wants=cellgate-guard@%i.service"
  grep -qE '^After=.*cellgate-guard@%i\.service' "$gateway" || bad "gateway unit lacks After=cellgate-guard@%i.service"
fi

# systemd's own parser, where there is one.
if command -v systemd-analyze >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  instances=()
  for u in "${units[@]}"; do
    name=$(basename "$u")
    # The cellgate binary is not installed here: run /bin/true instead (ExecStartPre too).
    sed -E 's#^(ExecStart(Pre)?=)/usr/local/bin/cellgate( .*)?$#\1/bin/true#' "$u" >"$tmp/$name"
    instances+=("$tmp/${name/@.service/@test-node.service}")
  done
  # verify exits 0 on an unknown key or an unparsable value and only says so: any line that
  # names one of these files is a failure.
  out=$(cd "$tmp" && systemd-analyze verify "${instances[@]}" 2>&1) || {
    bad "systemd-analyze verify failed"
  }
  if [ -n "$out" ]; then
    echo "systemd-analyze verify said:" >&2
    printf '%s\n' "$out" >&2
    if printf '%s\n' "$out" | grep -qF "$tmp/"; then
      bad "systemd-analyze verify complained about a unit"
    fi
  fi
  [ "$fail" -ne 0 ] || echo "systemd-analyze verify: ${#units[@]} units ok"
else
  echo "systemd-analyze not installed: skipping systemd-analyze verify"
fi

if [ "$fail" -ne 0 ]; then exit 1; fi
echo "systemd units ok: ${#units[@]} checked"
