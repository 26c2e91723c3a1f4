#!/bin/sh
# Cold log tier: copies each finished day of the warm VictoriaLogs instance into an
# archive directory as one tar.gz per day, and deletes archives older than 90 days.
#
# VictoriaLogs stores one partition per day (<storageDataPath>/partitions/YYYYMMDD) and
# can snapshot a partition (hard links, instant, consistent while it keeps writing).
# This loop, run beside the warm instance with its data volume mounted at the same path:
#   1. lists the partitions (GET /internal/partition/list),
#   2. for every day at least two days old without an archive yet, snapshots it
#      (GET /internal/partition/snapshot/create?partition_prefix=YYYYMMDD), packs the
#      snapshot into $ARCHIVE_DIR/YYYYMMDD.tar.gz and deletes the snapshot
#      (GET /internal/partition/snapshot/delete?path=...),
#   3. deletes archives of days older than $ARCHIVE_KEEP_DAYS.
# Two days, not one: the shipper's buffer may still deliver yesterday's lines after an
# outage. The warm instance keeps 30 days, so a stopped archiver can catch up on return.
# Restoring a day is described in deploy/README.md ("Reading archived logs").
#
# Runs on busybox (alpine): sh, wget, tar, gzip, date.
set -eu

VL_URL="${VL_URL:-http://127.0.0.1:9428}"
ARCHIVE_DIR="${ARCHIVE_DIR:-/archive}"
KEEP_DAYS="${ARCHIVE_KEEP_DAYS:-90}"
INTERVAL="${ARCHIVE_INTERVAL_SECONDS:-3600}"
# The -partitionManageAuthKey of the warm instance.
AUTH_KEY="${VL_PARTITION_KEY:?set VL_PARTITION_KEY to the warm instance's -partitionManageAuthKey}"

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) archive: $*"; }

# day_offset N prints the UTC day N days ago as YYYYMMDD.
day_offset() { date -u -d "@$(($(date -u +%s) - $1 * 86400))" +%Y%m%d; }

# json_list turns ["a","b"] into one item per line (the API returns plain string arrays).
json_list() { tr -d '[]" \n' | tr ',' '\n' | grep -v '^$' || true; }

api() { wget -q -O - "$VL_URL/internal/partition/$1&authKey=$AUTH_KEY"; }

archive_day() {
	day="$1"
	out="$ARCHIVE_DIR/$day.tar.gz"
	snaps="$(api "snapshot/create?partition_prefix=$day" | json_list)" || return 1
	snap="$(echo "$snaps" | head -n 1)"
	if [ -z "$snap" ]; then
		log "no partition $day"
		return 0
	fi
	# Write under a temporary name so a half-written archive is never taken as done.
	if tar -C "$snap" -czf "$out.partial" . && mv "$out.partial" "$out"; then
		log "archived $day ($(du -h "$out" | cut -f1))"
	else
		rm -f "$out.partial"
		log "failed to archive $day"
	fi
	api "snapshot/delete?path=$snap" >/dev/null || log "failed to delete snapshot $snap"
}

run_once() {
	newest="$(day_offset 2)"
	oldest="$(day_offset "$KEEP_DAYS")"
	days="$(wget -q -O - "$VL_URL/internal/partition/list?authKey=$AUTH_KEY" | json_list)" || {
		log "cannot list partitions at $VL_URL"
		return 0
	}
	for day in $days; do
		if [ "$day" -le "$newest" ] && [ ! -e "$ARCHIVE_DIR/$day.tar.gz" ]; then
			archive_day "$day" || log "failed to snapshot $day"
		fi
	done
	for f in "$ARCHIVE_DIR"/*.tar.gz; do
		[ -e "$f" ] || continue
		day="$(basename "$f" .tar.gz)"
		if [ "$day" -lt "$oldest" ]; then
			rm -f "$f" && log "deleted $day (older than $KEEP_DAYS days)"
		fi
	done
}

mkdir -p "$ARCHIVE_DIR"
while :; do
	run_once
	sleep "$INTERVAL"
done
