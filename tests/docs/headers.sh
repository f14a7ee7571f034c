#!/bin/sh
# tests/docs/headers.sh - the public headers that declare functions, in the
# order the API reference of docs/guide.md presents them: the listed ones
# first, then any other header under include/vexrt/ (so a new header is
# never left out).
order="runtime task config cancel notify channel io embed error alloc platform"
for h in $order; do printf 'include/vexrt/%s.h\n' "$h"; done
for f in include/vexrt/*.h; do
    b=$(basename "$f" .h)
    case " $order api " in *" $b "*) ;; *) grep -q '^VEX_API' "$f" && printf '%s\n' "$f" ;; esac
done
