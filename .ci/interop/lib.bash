# Helpers shared by the interop scripts; sourced, never run (.ci/run runs
# the *.sh files only). A script sets tmp before calling the helpers that
# read its files.

# self is the script's name without .sh, for messages.
self=${0##*/}
self=${self%.sh}

# fail prints why the script fails and exits 1 (cleanup runs on EXIT).
fail() {
	echo "$self: $*" >&2
	exit 1
}

# json_field NAME [FILE]: the number NAME of the last stats event "demo ua"
# or "demo events" printed to FILE (default $tmp/ua.out).
json_field() {
	grep '"event":"stats"' "${2:-$tmp/ua.out}" | tail -n 1 | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}

# csv_field FILE NAME: column NAME of the last line of a SIPp statistics
# file (-trace_stat); fails if there is no such column.
csv_field() {
	awk -F';' -v name="$2" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) col = i; next }
		{ last = $col }
		END { if (!col) exit 1; print last }' "$1"
}

# udp_bound PORT: whether a UDP socket is bound to 127.0.0.1:PORT.
udp_bound() {
	grep -q "$(printf ' 0100007F:%04X ' "$1")" /proc/net/udp
}

# tcp_listening PORT: whether a TCP socket listens on 127.0.0.1:PORT.
tcp_listening() {
	grep -q "$(printf ' 0100007F:%04X 00000000:0000 0A ' "$1")" /proc/net/tcp
}

# bound PROTO PORT: udp_bound PORT for udp, tcp_listening PORT for tcp.
bound() {
	if [ "$1" = udp ]; then udp_bound "$2"; else tcp_listening "$2"; fi
}

# free_port sets port to a UDP port of 127.0.0.1 nothing is bound to.
free_port() {
	for _ in $(seq 20); do
		port=$((20000 + RANDOM % 10000))
		udp_bound "$port" || return 0
	done
	fail "no free UDP port found"
}

# start_demo WHO ARGS...: runs "$tmp/demo" ua as WHO (its -user) on a free
# port of 127.0.0.1 with ARGS, output in $tmp/WHO.out and $tmp/WHO.err,
# and sets WHO_pid and WHO_port once it has printed its listening event
# (at most 10 s). The caller kills WHO_pid.
start_demo() {
	local who=$1 pid
	shift
	: >"$tmp/$who.out" # made first: the loop below reads it
	"$tmp/demo" ua -listen 127.0.0.1:0 -user "$who" "$@" >"$tmp/$who.out" 2>"$tmp/$who.err" &
	pid=$!
	printf -v "${who}_pid" %s "$pid"
	await_listening "$pid" "$tmp/$who.out" "$tmp/$who.err" "$who"
	printf -v "${who}_port" %s "$listen_port"
}

# await_listening PID OUT ERR WHO: waits up to 10 s for "demo" process PID
# to print its listening event on 127.0.0.1 to file OUT, and sets
# listen_port; fails the script (with ERR's content) if it exits first or
# does not listen in time.
await_listening() {
	local i
	for ((i = 0; i < 100; i++)); do
		listen_port=$(sed -n 's/.*"event":"listening".*"addr":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$2")
		[ -n "$listen_port" ] && return 0
		kill -0 "$1" 2>/dev/null || { cat "$3" >&2; fail "$4 exited before listening"; }
		sleep 0.1
	done
	cat "$3" >&2
	fail "$4 did not listen within 10 s"
}

# wait_exit PID SECONDS: waits for PID, a child, to exit by itself; returns
# its status, or fails the script after SECONDS.
wait_exit() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$1" 2>/dev/null && fail "process $1 did not exit within $2 s"
	local rc=0
	wait "$1" || rc=$?
	return "$rc"
}

# await_bound PID PROTO PORT: waits up to 5 s for process PID to bind
# PORT of 127.0.0.1 (bound PROTO PORT). If it does not (it exited, or the
# port was taken), it is killed and reaped, and await_bound returns 1.
await_bound() {
	for _ in $(seq 50); do
		bound "$2" "$3" && break
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$1" 2>/dev/null && bound "$2" "$3"; then
		return 0
	fi
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	return 1
}
