# Shared by the maintainer scripts of deskpulse-collector (deb and rpm). build.sh pastes it
# into each script where `#@common@` stands, so every installed script is self-contained.
# POSIX sh: a desktop root may have no bash. Every step is idempotent.
LIB=/usr/lib/deskpulse/collector
BIN=$LIB/deskpulse-collector
ETC=/etc/deskpulse
UNIT=deskpulse-collector.service
WANTS=/etc/systemd/user/graphical-session.target.wants
GNOME_UUID=deskpulse-focus@deskpulse.dev
GNOME_DIR=/usr/share/gnome-shell/extensions/$GNOME_UUID

# The pids of every running frozen collector (by executable, never by name).
collector_pids() {
  for exe in /proc/[0-9]*/exe; do
    target=$(readlink "$exe" 2>/dev/null) || continue
    case "$target" in
      "$BIN"|"$BIN (deleted)") pid=${exe#/proc/}; printf '%s\n' "${pid%/exe}" ;;
    esac
  done
}

# SIGTERM to every collector (a clean stop: the open span is spooled), SIGKILL after 10 s.
stop_collectors() {
  pids=$(collector_pids)
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  i=0
  while [ "$i" -lt 100 ]; do
    [ -n "$(collector_pids)" ] || return 0
    sleep 0.1
    i=$((i + 1))
  done
  # shellcheck disable=SC2046
  kill -KILL $(collector_pids) 2>/dev/null || true
}

# The spool is kept when asked: DESKPULSE_KEEP_SPOOL=1 in the package tool's environment,
# or the file /etc/deskpulse/keep-spool.
keep_spool() {
  [ "${DESKPULSE_KEEP_SPOOL:-0}" = 1 ] || [ -e "$ETC/keep-spool" ]
}

# Every person's spool at its default place (~/.local/share/deskpulse/collector/spool.db and
# SQLite's -wal and -shm), and nothing else.
remove_spools() {
  cut -d: -f6 /etc/passwd | sort -u | while IFS= read -r home; do
    case "$home" in /*) ;; *) continue ;; esac
    dir="$home/.local/share/deskpulse/collector"
    [ -d "$dir" ] || continue
    rm -f "$dir/spool.db" "$dir/spool.db-wal" "$dir/spool.db-shm"
    rmdir "$dir" 2>/dev/null || true
  done
}

# The GNOME Shell extension's copy (and its parents, if nothing else is in them).
remove_gnome_extension() {
  rm -rf "$GNOME_DIR" "$GNOME_DIR.new"
  rmdir "${GNOME_DIR%/*}" "${GNOME_DIR%/*/*}" 2>/dev/null || true
}
