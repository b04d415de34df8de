#!/bin/bash
# Every page of Documentation/ parses as reStructuredText without a warning:
# a table whose text runs past its column shows as an error box in place
# of the table where the pages are rendered.  Needs Python's docutils;
# skipped, saying so, without it.
. "$(dirname "$0")/../lib.sh"
python3 -c 'import docutils' 2>/dev/null || skip_all "no Python docutils to parse the pages with"
pages=("$TOP"/Documentation/*.rst)
plan "${#pages[@]}"
for page in "${pages[@]}"; do
	out=$(python3 -m docutils --report=2 --halt=5 "$page" /dev/null 2>&1)
	ok "$([ -z "$out" ]; echo $?)" "${page#"$TOP"/}: no reStructuredText warnings" ||
		diag "$out"
done
