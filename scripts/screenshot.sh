#!/usr/bin/env bash
# Screenshots of the status page in a real headless browser (Debian's chromium), served by a demo
# daemon: the offline demo feeds plus one feed that fails, so every kind of card shows.
#
#   scripts/screenshot.sh [OUT_DIR]     (default: docs/; writes status-page-phone.png and
#                                        status-page-desktop.png)
#
# Installs chromium with apt-get when it is missing (needs root). Uses target/debug/newshound,
# building it first if needed (NEWSHOUND=/path/to/newshound to use another binary).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/docs}
bin=${NEWSHOUND:-$root/target/debug/newshound}

if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: chromium is not installed; run as root, or: sudo apt-get install chromium" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-core fonts-noto-cjk >/dev/null
fi
if [ ! -x "$bin" ]; then
    (cd "$root" && cargo build --locked)
fi

work=$(mktemp -d)
daemon=
cleanup() {
    if [ -n "$daemon" ]; then kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The demo config, with its paths made absolute, a database in the temp dir, the listener on, and
# a feed whose file does not exist (it fails on every poll).
sed -e "s#\.\./target/demo/newshound.db#$work/demo.db#" -e "s#\"\.\./tests/#\"$root/tests/#" \
    "$root/config/demo.toml" > "$work/demo.toml"
cat >> "$work/demo.toml" <<EOF

[[feeds]]
name = "moved-away"
url = "$work/no-such-feed.xml"

[http]
listen = "127.0.0.1:$port"
EOF

"$bin" --config "$work/demo.toml" run 2>"$work/daemon.log" &
daemon=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 150); do
    # Every feed polled at least once (the first round is spread over the demo's interval), and
    # the failing feed's second failure recorded.
    feeds=$(( $(grep -c '^\[\[feeds\]\]' "$work/demo.toml") ))
    if curl -fsS "$base/api/feeds" 2>/dev/null | python3 2>/dev/null -c '
import json, sys
rows = json.load(sys.stdin)
polled = [r for r in rows if r["last_fetch_at"]]
failing = [r for r in rows if r["consecutive_failures"] >= 1]
sys.exit(0 if len(polled) >= int(sys.argv[1]) and failing else 1)' "$feeds"; then
        break
    fi
    sleep 0.2
done
curl -fsS "$base/readyz" >/dev/null

shot() {
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
        --window-size="$1" --screenshot="$2" "$base/" 2>/dev/null
    echo "wrote $2"
}
mkdir -p "$out"
shot 412,1800 "$out/status-page-phone.png"
shot 1200,1100 "$out/status-page-desktop.png"
