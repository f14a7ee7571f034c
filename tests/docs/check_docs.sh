#!/bin/sh
# tests/docs/check_docs.sh - what `make check-docs` checks, so that the user
# docs are code that builds:
#   1. every fenced block in README.md and docs/*.md whose info string is
#      `c program` compiles and links against the library, and every
#      `c fragment` compiles as the body of a resume function (ctx, data and
#      rt in scope); other blocks (shell, plain `c` signatures) are prose;
#   2. docs/guide.md's API reference is what tests/docs/reference.awk makes
#      of the public headers (so every public function is in it, with its
#      header's contract): `make docs-reference` rewrites it;
#   3. every public header compiles alone under -std=c99 -pedantic;
#   4. docs/architecture.md's file table names every file of core/, alloc/
#      and platform/;
#   5. no product doc points at ../shared/ (it is not shipped).
# Usage: check_docs.sh CC BUILD LIB LDLIBS
set -u
CC=${1:-cc}; BUILD=${2:-build}; LIB=${3:-build/libvexrt.a}; LDLIBS=${4:--lpthread}
out="$BUILD/docs"
rm -rf "$out"; mkdir -p "$out"
fail=0
say() { printf 'check-docs: %s\n' "$*"; }

# 1. Code blocks.
n=0
for md in README.md docs/*.md; do
    awk -v out="$out" -v md="$md" '
        BEGIN { base = md; gsub(/[\/.]/, "_", base) }
        /^```/ {
            if (!inblock) {
                kind = ""
                if ($0 ~ /^```c program/) kind = "program"
                else if ($0 ~ /^```c fragment/) kind = "fragment"
                inblock = 1; line0 = NR
                if (kind != "") { file = sprintf("%s/%s_%d.%s.c", out, base, NR, kind); printf "#line %d \"%s\"\n", NR + 1, md > file }
                next
            }
            inblock = 0; if (kind != "") close(file); kind = ""; next
        }
        inblock && kind != "" { print > file }
    ' "$md"
done
for f in "$out"/*.c; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    case "$f" in
    *.program.c)
        if ! $CC -std=c11 -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE -Iinclude "$f" \
                "$LIB" $LDLIBS -o "${f%.c}" 2> "${f%.c}.err"; then
            say "a program block does not build:"; head -n 20 "${f%.c}.err"; fail=1
        fi ;;
    *.fragment.c)
        w="${f%.c}.wrapped.c"
        {
            printf '#include <vexrt.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n'
            printf '#include <unistd.h>\n#include <sys/socket.h>\n#include <netinet/in.h>\n'
            printf 'CoroStatus doc_fragment(WorkerContext *ctx, void *data);\n'
            printf 'CoroStatus doc_fragment(WorkerContext *ctx, void *data)\n{\n'
            printf '    Runtime *rt = NULL; (void)rt; (void)ctx; (void)data;\n'
            cat "$f"
            printf '\n    return CORO_STATUS_DONE;\n}\n'
        } > "$w"
        if ! $CC -std=c11 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-unused-variable \
                -Wno-unreachable-code -D_GNU_SOURCE -Iinclude -c "$w" -o "${f%.c}.o" 2> "${f%.c}.err"; then
            say "a fragment block does not compile:"; head -n 20 "${f%.c}.err"; fail=1
        fi ;;
    esac
done

# 2. The reference.
awk -f tests/docs/reference.awk $(tests/docs/headers.sh) > "$out/reference.md"
awk '/<!-- reference:begin -->/{p=1; next} /<!-- reference:end -->/{p=0} p' docs/guide.md > "$out/guide-reference.md"
if ! cmp -s "$out/reference.md" "$out/guide-reference.md"; then
    say "docs/guide.md's API reference is not what the headers say (make docs-reference rewrites it):"
    diff "$out/guide-reference.md" "$out/reference.md" | head -n 20
    fail=1
fi
for h in $(tests/docs/headers.sh); do
    for fn in $(grep -h '^VEX_API' "$h" | sed 's/(.*//; s/.*[ *]//'); do
        grep -q "^#### \`$fn\`" docs/guide.md || { say "$fn ($h) has no entry in docs/guide.md"; fail=1; }
    done
done

# 3. Headers alone, strict C99.
for h in include/runtime.h include/vexrt.h include/vexrt/*.h; do
    printf '#include "%s"\nint main(void) { return 0; }\n' "${h#include/}" > "$out/header.c"
    $CC -std=c99 -pedantic -Wall -Wextra -Werror -Iinclude -c "$out/header.c" -o "$out/header.o" 2> "$out/header.err" ||
        { say "$h does not compile alone under -std=c99 -pedantic:"; head -n 5 "$out/header.err"; fail=1; }
done

# 4. docs/architecture.md names every file of core/, alloc/ and platform/:
#    as dir/name, dir/stem.[ch], or a bare name in a row that names its dir.
for f in $(find core alloc platform -name '*.[ch]' | sort); do
    d=$(dirname "$f"); b=$(basename "$f"); stem=${b%.*}
    grep -q -e "\`$f\`" -e "\`$d/$stem\.\[ch\]\`" docs/architecture.md && continue
    grep "\`$d/" docs/architecture.md | grep -q -e "\`$b\`" -e "\`$stem\.\[ch\]\`" && continue
    say "$f is not in docs/architecture.md's file table"; fail=1
done

# 5. Shipped docs stand alone.
if grep -n '\.\./shared' README.md docs/*.md; then say "the lines above point at ../shared/"; fail=1; fi

[ $fail = 0 ] && say "ok ($n code blocks, $(grep -c '^#### ' docs/guide.md) reference entries, headers c99-clean)"
exit $fail
