# tests/docs/reference.awk - writes the API reference (Markdown) from the
# public headers given as arguments: for every VEX_API function, its
# declaration and the comment above it (the header's one-line contract and
# whatever follows). Declarations that follow one another with no blank line
# between share the comment above the first. `make check-docs` compares the
# result with the reference section of docs/guide.md.
function clean(c,    out, n, i, lines, l) {
    n = split(c, lines, "\n")
    out = ""
    for (i = 1; i <= n; i++) {
        l = lines[i]
        sub(/^[ \t]*\/\*+ ?/, "", l)
        sub(/^[ \t]*\* ?/, "", l)
        sub(/[ \t]*\*\/[ \t]*$/, "", l)
        if (l == "" && out == "") continue
        out = out l "\n"
    }
    sub(/\n+$/, "", out)
    return out
}
FNR == 1 {
    name = FILENAME
    sub(/^.*include\//, "", name)
    printf "\n### `%s`\n", name
    incomment = 0; pending = ""; shared = ""; prevdecl = 0
}
incomment {
    comment = comment "\n" $0
    if ($0 ~ /\*\//) { incomment = 0; pending = comment }
    next
}
/^[ \t]*\/\*/ {
    if ($0 ~ /^\/\* ---/) { pending = ""; prevdecl = 0; next } # a section banner
    comment = $0
    prevdecl = 0
    if ($0 ~ /\*\//) pending = comment
    else incomment = 1
    next
}
/^VEX_API/ {
    decl = $0
    while (decl !~ /;/ && (getline line) > 0) decl = decl "\n" line
    fn = decl
    sub(/\(.*/, "", fn)
    n = split(fn, parts, /[ \t\*]+/)
    fn = parts[n]
    if (pending != "") shared = pending
    else if (!prevdecl) shared = ""
    text = clean(shared)
    printf "\n#### `%s`\n\n```c\n%s\n```\n\n%s\n", fn, decl, text
    pending = ""
    prevdecl = 1
    next
}
/^[ \t]*$/ { pending = ""; prevdecl = 0; next }
{ pending = ""; prevdecl = 0 }
