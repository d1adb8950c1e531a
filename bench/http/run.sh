#!/usr/bin/env bash
# bench/http: the HTTP hello server (examples/guest/http_hello.c) run by
# `lunatic` under wrk at 100 and 1,000 keep-alive connections on loopback,
# side by side with nginx serving the same 13-byte body (a config of our
# own in a temporary folder) and with the same server in Erlang
# (erlang/http_hello.erl, gen_tcp); then 1 GB through the TCP echo example
# (examples/guest/tcp_echo.c) over one connection (echo_client.c).
#
#   bench/http/run.sh BUILD_DIR
#
# LUN_BENCH_DIVISOR=N: 10/N seconds per wrk run (at least 1) and 1000/N MB
# echoed. LUN_HTTP_SIDES="lunatic nginx erlang" picks the servers. A side
# whose tool is missing (wrk, nginx, erl) is skipped with a message.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
divisor=${LUN_BENCH_DIVISOR:-1}
seconds=$((10 / divisor)); [ "$seconds" -ge 1 ] || seconds=1
megabytes=$((1000 / divisor)); [ "$megabytes" -ge 1 ] || megabytes=1
sides=${LUN_HTTP_SIDES:-lunatic nginx erlang}
threads=${LUN_WRK_THREADS:-2}

lunatic=$build/lunatic
guests=$build/examples/guest
for file in "$lunatic" "$guests/http_hello.wasm" "$guests/tcp_echo.wasm"; do
    if [ ! -e "$file" ]; then
        echo "bench/http: $file not found (build the project with the guest SDK first)" >&2
        exit 1
    fi
done
if ! command -v wrk > /dev/null; then
    echo "bench/http: wrk not found (scripts/install-deps.sh installs it); skipped" >&2
    exit 0
fi

ulimit -n "$(ulimit -Hn)" 2> /dev/null || true
work=$(mktemp -d)
server_pid=
stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2> /dev/null
        wait "$server_pid" 2> /dev/null
        server_pid=
    fi
}
trap 'stop_server; rm -rf "$work"' EXIT
status=0

# Waits for a "listening on 127.0.0.1:PORT" line (lunatic) or a port file.
wait_for_port() { # file
    for _ in $(seq 100); do
        if [ -s "$1" ]; then
            port=$(sed -n 's/.*:\([0-9]*\)$/\1/p; s/^\([0-9][0-9]*\)$/\1/p' "$1" | head -1)
            [ -n "$port" ] && return 0
        fi
        sleep 0.1
    done
    echo "bench/http: the server did not start" >&2
    return 1
}

# Runs wrk; sets rps and p99_ms; complains about errors and non-200s.
run_wrk() { # port connections
    local output
    output=$(wrk -t"$threads" -c"$2" -d"${seconds}s" --latency "http://127.0.0.1:$1/" 2>&1)
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<< "$output")
    p99_ms=$(awk '$1 == "99%" {
        v = $2; unit = v; sub(/[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v)
        if (unit == "us") v /= 1000; else if (unit == "s") v *= 1000
        print v }' <<< "$output")
    if grep -qE 'Non-2xx|Socket errors' <<< "$output"; then
        echo "bench/http: wrk -c$2 reported:" >&2
        grep -E 'Non-2xx|Socket errors' <<< "$output" >&2
    fi
    if [ -z "$rps" ]; then
        echo "bench/http: wrk failed: $output" >&2
        rps=0 p99_ms=0 status=1
    fi
}

# ---- lunatic ------------------------------------------------------------------
if [[ " $sides " == *" lunatic "* ]]; then
    "$lunatic" run "$guests/http_hello.wasm" 0 > "$work/lunatic.port" 2> "$work/lunatic.err" &
    server_pid=$!
    if wait_for_port "$work/lunatic.port"; then
        run_wrk "$port" 100
        echo "BENCH http.rps_c100 $rps per_s"
        run_wrk "$port" 1000
        echo "BENCH http.rps_c1000 $rps per_s"
        echo "BENCH http.p99_ms_c1000 $p99_ms ms"
    else
        status=1
    fi
    stop_server
fi

# ---- nginx ---------------------------------------------------------------------
nginx_binary=$(command -v nginx || ls /usr/sbin/nginx 2> /dev/null || true)
if [[ " $sides " == *" nginx "* ]] && [ -n "$nginx_binary" ]; then
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2> /dev/null || echo 18080)
    mkdir -p "$work/nginx/logs"
    cat > "$work/nginx/nginx.conf" << CONF
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$port;
        location / {
            default_type text/plain;
            return 200 "Hello, World!";
        }
    }
}
CONF
    "$nginx_binary" -p "$work/nginx" -c "$work/nginx/nginx.conf" 2> "$work/nginx.err" &
    server_pid=$!
    sleep 0.5
    if curl -s "http://127.0.0.1:$port/" | grep -q 'Hello, World!'; then
        run_wrk "$port" 1000
        echo "BENCH nginx.rps_c1000 $rps per_s"
    else
        echo "bench/http: nginx did not start: $(cat "$work/nginx.err")" >&2
        status=1
    fi
    stop_server
elif [[ " $sides " == *" nginx "* ]]; then
    echo "bench/http: nginx not found; its side is skipped" >&2
fi

# ---- Erlang ----------------------------------------------------------------------
if [[ " $sides " == *" erlang "* ]] && command -v erlc > /dev/null; then
    erlc -o "$work" "$here/erlang/http_hello.erl"
    erl +K true -noshell -pa "$work" -run http_hello main "$work/erlang.port" \
        > "$work/erlang.out" 2>&1 &
    server_pid=$!
    if wait_for_port "$work/erlang.port"; then
        run_wrk "$port" 1000
        echo "BENCH erlang.http.rps_c1000 $rps per_s"
    else
        cat "$work/erlang.out" >&2
        status=1
    fi
    stop_server
elif [[ " $sides " == *" erlang "* ]]; then
    echo "bench/http: erlc not found; the Erlang side is skipped" >&2
fi

# ---- TCP echo throughput -----------------------------------------------------------
if [[ " $sides " == *" lunatic "* ]]; then
    cc -O2 -o "$work/echo_client" "$here/echo_client.c" -lpthread
    "$lunatic" run "$guests/tcp_echo.wasm" 0 > "$work/echo.port" 2> "$work/echo.err" &
    server_pid=$!
    if wait_for_port "$work/echo.port"; then
        "$work/echo_client" "$port" "$megabytes" || status=1
    else
        status=1
    fi
    stop_server
fi
exit $status
