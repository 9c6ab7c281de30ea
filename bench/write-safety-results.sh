#!/usr/bin/env bash
# bench/write-safety-results.sh HEADING FILE — puts FILE (a subsection that
# starts with HEADING, "### ...") into the "## Safety" section of
# bench/RESULTS.md, replacing the subsection of the same heading; the other
# sections (other benchmarks) are left as they are.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE/RESULTS.md
HEADING=$1
FILE=$2
[[ -f $OUT ]] || printf '# moonshift benchmarks\n' >"$OUT"
TMP=$(mktemp)
awk -v heading="$HEADING" -v sect="$FILE" '
    function dump() { while ((getline l < sect) > 0) print l; close(sect); print ""; done = 1 }
    /^## / {
        if (insafety && !done) dump()
        insafety = ($0 == "## Safety"); insub = 0
        if (insafety) seen = 1
        print; next
    }
    insafety && /^### / {
        insub = 0
        if ($0 == heading) { dump(); insub = 1; next }
    }
    insub { next }
    { print }
    END {
        if (!seen) { print ""; print "## Safety"; print ""; dump() }
        else if (insafety && !done) dump()
    }' "$OUT" >"$TMP"
cp "$TMP" "$OUT.tmp.$$" && mv "$OUT.tmp.$$" "$OUT"
rm -f "$TMP"
echo "wrote \"$HEADING\" in the Safety section of $OUT" >&2
