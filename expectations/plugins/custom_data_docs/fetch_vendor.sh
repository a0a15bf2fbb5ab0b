#!/usr/bin/env bash
# Take the Data Docs' third-party assets (vendor/ASSETS) from the npm registry into vendor/, each
# package's licence file beside its files. popper.js and vega ship no licence file in their npm
# package: their vendor/<name>/LICENSE is written by hand from the projects' repositories, and
# kept. Run this by hand when GX's templates move to other versions, then review and commit
# vendor/ with `git add -f` (the repository ignores folders named build/, where Vega keeps its
# files): the nightly run and the tests never need the network.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
while read -r spec path; do
  case "$spec" in '' | '#'*) continue ;; esac
  name=${spec%@*}  # @scope/name or name
  dir=${name#*/}   # the name without its scope
  if [ ! -d "$tmp/$dir" ]; then
    tgz=$(cd "$tmp" && npm pack --silent "$spec" | tail -n 1)
    mkdir -p "$tmp/$dir" "$here/vendor/$dir"
    tar -xzf "$tmp/$tgz" -C "$tmp/$dir"
    for licence in "$tmp/$dir"/package/LICEN[CS]E*; do
      if [ -e "$licence" ]; then cp "$licence" "$here/vendor/$dir/"; fi
    done
  fi
  mkdir -p "$here/vendor/$dir/$(dirname "$path")"
  cp "$tmp/$dir/package/$path" "$here/vendor/$dir/$path"
done < "$here/vendor/ASSETS"
