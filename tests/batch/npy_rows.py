#!/usr/bin/python3
"""npy_rows.py: the committed fixtures' .npy arrays as test rows, and lookups checked against
them, with nothing but the standard library (reads NumPy's .npy format itself: the reference
outputs come from scikit-learn/XGBoost, see tests/fixtures/make_trees.py).

  npy_rows.py csv IN.npy OUT.csv [PREFIX]   header id,x0..; row i keyed PREFIX+i; NaN cells
                                            written in turn as '', 'nan', 'NaN'
  npy_rows.py nanrows IN.npy                how many rows hold a NaN
  npy_rows.py sql IN.npy TABLE N            SQL creating TABLE(id, x0..) with rows 0..N-1
                                            (NaN as NULL), keyed r0..
  npy_rows.py json IN.npy N                 {"instances": rows 0..N-1} with NaN as null
  npy_rows.py compare LOOKUP OUTPUT REF.npy [PREFIX]
        every line of LOOKUP (`mlship lookup --all` JSON lines, or a `:predict` reply's
        "predictions" with --keys K1,K2 as the 5th arg) has outputs[OUTPUT] equal to REF's row
        for its key (floats within 1e-6 + 1e-5 * |ref|, as test_fixtures.c); prints the count
"""
import ast
import json
import struct
import sys


def load(path):
    b = open(path, "rb").read()
    assert b[:6] == b"\x93NUMPY", path
    if b[6] == 1:
        hl, off = struct.unpack("<H", b[8:10])[0], 10
    else:
        hl, off = struct.unpack("<I", b[8:12])[0], 12
    h = ast.literal_eval(b[off:off + hl].decode("latin1"))
    code = {"<f4": "f", "<f8": "d", "<i8": "q"}[h["descr"]]
    data = b[off + hl:]
    n = len(data) // struct.calcsize(code)
    vals = list(struct.unpack("<%d%s" % (n, code), data))
    shape = h["shape"]
    per = 1
    for d in shape[1:]:
        per *= d
    return [vals[i * per:(i + 1) * per] for i in range(shape[0])]


def cmd_csv(src, dst, prefix="r"):
    rows = load(src)
    spell = ["", "nan", "NaN"]
    k = 0
    with open(dst, "w") as f:
        f.write("id," + ",".join("x%d" % i for i in range(len(rows[0]))) + "\n")
        for i, r in enumerate(rows):
            cells = []
            for v in r:
                if v != v:
                    cells.append(spell[k % 3])
                    k += 1
                else:
                    cells.append("%.9g" % v)
            f.write("%s%d,%s\n" % (prefix, i, ",".join(cells)))


def close(got, want):
    if isinstance(want, int):
        return got == want
    return abs(got - want) <= 1e-6 + 1e-5 * abs(want)


def flat(v):
    if isinstance(v, dict):
        return [v[k] for k in sorted(v, key=lambda s: int(s) if s.lstrip("-").isdigit() else s)]
    if isinstance(v, list):
        out = []
        for e in v:
            out.extend(flat(e))
        return out
    return [v]


def cmd_compare(lookup, output, ref, prefix="r", keys=None):
    want = load(ref)
    if keys:
        preds = json.load(open(lookup))["predictions"]
        pairs = [(k, p) for k, p in zip(keys.split(","), preds)]
    else:
        pairs = []
        for line in open(lookup):
            o = json.loads(line)
            pairs.append((o["key"], o["outputs"]))
    n = 0
    for key, outs in pairs:
        i = int(key[len(prefix):])
        got = flat(outs[output] if isinstance(outs, dict) and output in outs else outs)
        w = want[i]
        if len(got) != len(w) or not all(close(g, x) for g, x in zip(got, w)):
            sys.exit("key %s output %s: got %s, want %s" % (key, output, got, w))
        n += 1
    print(n)


def cell(v):
    return None if v != v else float("%.9g" % v)


def cmd_sql(src, table, n):
    rows = load(src)[:int(n)]
    cols = ", ".join("x%d real" % i for i in range(len(rows[0])))
    print("create table %s (id text primary key, %s);" % (table, cols))
    for i, r in enumerate(rows):
        vals = ", ".join("NULL" if cell(v) is None else repr(cell(v)) for v in r)
        print("insert into %s values ('r%d', %s);" % (table, i, vals))


def cmd_json(src, n):
    print(json.dumps({"instances": [[cell(v) for v in r] for r in load(src)[:int(n)]]}))


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "csv":
        cmd_csv(*a[1:])
    elif a[0] == "nanrows":
        print(sum(1 for r in load(a[1]) if any(v != v for v in r)))
    elif a[0] == "sql":
        cmd_sql(*a[1:])
    elif a[0] == "json":
        cmd_json(*a[1:])
    elif a[0] == "compare":
        cmd_compare(*a[1:])
