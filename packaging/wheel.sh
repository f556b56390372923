#!/usr/bin/env bash
# Build the `packetlab` wheel (pyproject.toml: maturin, bindings "bin") with its man page, then
# prove it: install it into a fresh virtual environment and, with no cargo on PATH, run a
# built-in lesson, two Python programs under `packetlab py`, and `explain` on the capture.
#
#   bash packaging/wheel.sh            # the wheel lands in target/wheels/
set -euo pipefail
cd "$(dirname "$0")/.."

work=target/wheel-work
rm -rf "$work" target/wheel-data target/wheels
mkdir -p "$work" target/wheel-data/data/share/man/man1

# maturin from PyPI, in an environment of its own.
python3 -m venv "$work/build-env"
"$work/build-env/bin/pip" install --quiet "maturin>=1.5,<2"

cargo build --release --bin packetlab
target/release/packetlab man >target/wheel-data/data/share/man/man1/packetlab.1
"$work/build-env/bin/maturin" build --release --out target/wheels
wheel=$(ls target/wheels/packetlab-*.whl)
echo "built $wheel ($(du -k "$wheel" | cut -f1) KiB)"

# A newcomer's machine: a fresh environment, the wheel, and no Rust anywhere on PATH.
python3 -m venv "$work/user-env"
"$work/user-env/bin/pip" install --quiet "$wheel"
user_path="$PWD/$work/user-env/bin:/usr/local/bin:/usr/bin:/bin"
if env PATH="$user_path" bash -c 'command -v cargo rustc' >/dev/null; then
  echo "cargo or rustc is on the newcomer's PATH: the check would prove nothing" >&2
  exit 1
fi
run() { (cd "$work" && env -i PATH="$user_path" HOME="$PWD" "$@"); }
run packetlab --version
run packetlab lessons | sed -n 1,3p   # sed reads it all: no SIGPIPE under pipefail
run packetlab run handshake --quiet
run packetlab explain captures/handshake.pcapng | sed -n 1,3p
cp scenarios/python/udp_server.py scenarios/python/udp_client.py "$work/"
run packetlab py udp_server.py udp_client.py --quiet
test -s "$work/user-env/share/man/man1/packetlab.1"
echo "the wheel installs and runs without a Rust toolchain"
