# SPDX-License-Identifier: MIT
# The layout half of the ABI manifest, read from the probe's DWARF by gdb:
#
#   gdb -batch -nx -ex 'python MH_INCDIR = "DIR"' -x abi/dwarf.py PROBE
#
# prints one "KIND NAME VALUE" row for every struct, union, enum and
# typedef declared in DIR/modhost/*.h (the probe is built with
# -fno-eliminate-unused-debug-types, so unused ones are there too), and one
# for each of their members and enumerators.  Types are printed as gdb
# prints them: canonical C, no parameter names, no attributes.
import re

import gdb

rows = []


def layout(kind, name, t, extra=""):
    """A struct or union @t known as @name, then its members."""
    fields = t.fields()
    if not fields and t.sizeof == 0:
        rows.append((kind, name, "opaque"))
        return
    # A struct that starts with "uint32_t size" says how much of it the
    # other side has: it may grow at its end within a major (mh_api,
    # mh_module_ops).  Any other struct is fixed.
    grows = (kind == "struct" and fields[0].name == "size" and
             str(fields[0].type) == "uint32_t" and fields[0].bitpos == 0)
    flags = extra + (" append-only" if grows else "")
    rows.append((kind, name, "size=%d align=%d%s" % (t.sizeof, t.alignof,
                                                     flags)))
    members(name, t, 0, [0])


def members(prefix, t, base, index):
    for f in t.fields():
        ft = f.type.strip_typedefs()
        off = base + f.bitpos // 8
        # An anonymous struct or union member: flatten, its fields are the
        # parent's as far as a module is concerned.
        if f.name is None:
            members(prefix, ft, off, index)
            continue
        name = "%s.%s" % (prefix, f.name)
        bits = ""
        if f.bitsize:
            bits = " bits=%d:%d" % (f.bitpos % 8, f.bitsize)
        rows.append(("member", name, "index=%d offset=%d size=%d%s type=%s" %
                     (index[0], off, f.type.sizeof, bits, f.type)))
        index[0] += 1
        # A member of an unnamed struct/union type: describe it in place.
        if (ft.code in (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION) and
                ft.tag is None and str(f.type).endswith("{...}")):
            members(name, ft, off, [0])


def enum(name, t):
    rows.append(("enum", name, "size=%d" % t.sizeof))
    for f in t.fields():
        rows.append(("enumerator", f.name, "%s=%d" % (name, f.enumval)))


def typedef(name):
    t = gdb.lookup_type(name)
    target = t.strip_typedefs()
    rows.append(("typedef", name, str(t.target())))
    # typedef struct { ... } name: the struct is only known by this name.
    if target.code in (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION) and \
            target.tag is None:
        kind = "struct" if target.code == gdb.TYPE_CODE_STRUCT else "union"
        layout(kind, name, target, " typedef")
    elif target.code in (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION) and \
            target.sizeof == 0 and not target.fields():
        rows.append(("struct", target.tag, "opaque"))


def main():
    incdir = MH_INCDIR.rstrip("/") + "/modhost/"  # noqa: F821 (set by caller)
    text = gdb.execute("info types", to_string=True)
    ours = False
    found = []
    for line in text.splitlines():
        if line.startswith("File "):
            ours = line[5:].rstrip(":").startswith(incdir)
            continue
        if line.startswith("Non-debugging symbols"):
            break
        m = re.match(r"^\d+:\s+(.*);$", line)
        if not ours or not m:
            continue
        decl = m.group(1)
        if decl.startswith("typedef "):
            found.append(("typedef", re.search(r"(\w+)$", decl).group(1)))
        else:
            kind, name = decl.split()
            found.append((kind, name))
    if not found:
        raise gdb.GdbError("no type from %s in the probe's DWARF" % incdir)
    for kind, name in sorted(set(found), key=lambda k: (k[1], k[0])):
        if kind == "typedef":
            typedef(name)
        elif kind == "enum":
            enum(name, gdb.lookup_type("enum " + name))
        else:
            layout(kind, name, gdb.lookup_type(kind + " " + name))
    seen = set()
    for r in rows:
        # An opaque struct is named by its typedef and maybe by itself.
        if r[:2] in seen:
            continue
        seen.add(r[:2])
        print("%s %s %s" % r)


main()
