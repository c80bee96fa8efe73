# Sourced by scripts/instructions.sh and scripts/peers/run.sh.
# build_harness HARNESS_DIR CHECKOUT WORK FEATURES -> prints the path of a release harness
# binary built against CHECKOUT (a copy of HARNESS_DIR whose `scaling-laws` path points at it,
# with the checkout's Cargo.lock so versions match and no network is needed), target dir
# WORK/target shared by all checkouts (dependencies compile once).
build_harness() {
  local src=$1 checkout=$2 work=$3 features=$4
  if grep -q '^pub mod chinchilla' "$checkout/src/lib.rs"; then
    features="${features:+$features,}chinchilla-module"
  fi
  local key
  key=$(printf '%s %s' "$checkout" "$features" | sha1sum | cut -c1-10)
  local dir="$work/src-$key"
  mkdir -p "$dir"
  rm -rf "$dir/src"
  cp -r "$src/src" "$dir/src"
  sed "s|^scaling-laws = { path = \"[^\"]*\"|scaling-laws = { path = \"$checkout\"|" \
    "$src/Cargo.toml" >"$dir/Cargo.toml"
  [ -f "$checkout/Cargo.lock" ] && [ ! -f "$dir/Cargo.lock" ] && cp "$checkout/Cargo.lock" "$dir/Cargo.lock"
  local args=(build --release --quiet --manifest-path "$dir/Cargo.toml")
  [ -n "$features" ] && args+=(--features "$features")
  # --offline first (the checkout's lock and the local registry cache are enough); fall back
  # to a normal build that may fetch.
  CARGO_TARGET_DIR="$work/target" nice cargo "${args[@]}" --offline >&2 2>/dev/null ||
    CARGO_TARGET_DIR="$work/target" nice cargo "${args[@]}" >&2
  cp "$work/target/release/scaling-laws-speed-harness" "$work/harness-$key"
  echo "$work/harness-$key"
}
