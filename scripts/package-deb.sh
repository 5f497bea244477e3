#!/usr/bin/env bash
# Builds target/debian/newshound_*.deb: the release binary, the unit, the example config (a
# conffile), the man page and shell completions generated from the binary itself.
#   scripts/package-deb.sh            # needs cargo-deb: cargo install cargo-deb --locked
# NEWSHOUND_DEB_PROFILE=dev packages the debug build instead: CI does, to test the packaging
# without a second (release, LTO) build.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${NEWSHOUND_DEB_PROFILE:-release}
cargo build --locked --profile "$profile"
bin=target/$([ "$profile" = dev ] && echo debug || echo "$profile")/newshound
mkdir -p target/assets
"$bin" manpage | gzip -9n > target/assets/newshound.1.gz
"$bin" completions bash > target/assets/newshound.bash
"$bin" completions zsh > target/assets/_newshound
"$bin" completions fish > target/assets/newshound.fish
# The packaged binary is stripped; target/ keeps its symbols for profiling.
cargo deb --no-build --locked --profile "$profile" --strip "$@"
ls -l target/debian/*.deb
