#!/usr/bin/python3
"""gbdt_visits.py MODEL.json X.npy [N_TREES OUT.json]: the tree nodes an XGBoost model.json
visits for row 0 of X.npy (every split node on the path to each tree's leaf, counted by a
plain walk here, independent of mlship), printed as "visited V splits S leaves L".
With N_TREES and OUT.json, also writes the model cut to its first N_TREES trees (so
bench/edge/run.sh can take the difference of two exports and cancel the fixed cost: the
features' keys, the base score and the logistic)."""
import json
import struct
import sys


def row0(path):
    with open(path, "rb") as f:
        data = f.read()
    hl = struct.unpack("<H", data[8:10])[0]
    hdr = data[10:10 + hl].decode()
    shape = tuple(int(v) for v in hdr.split("'shape': (")[1].split(")")[0].split(",") if v.strip())
    width = 1
    for d in shape[1:]:
        width *= d
    return struct.unpack("<%df" % width, data[10 + hl:10 + hl + 4 * width])


def visits(trees, x):
    splits = 0
    for tr in trees:
        i = 0
        while tr["left_children"][i] != -1:
            splits += 1
            v = x[tr["split_indices"][i]]
            go_left = tr["default_left"][i] if v != v else v < tr["split_conditions"][i]
            i = tr["left_children"][i] if go_left else tr["right_children"][i]
    return splits


def main():
    with open(sys.argv[1]) as f:
        model = json.load(f)
    gb = model["learner"]["gradient_booster"]["model"]
    x = row0(sys.argv[2])
    if len(sys.argv) > 4:
        n = int(sys.argv[3])
        gb["trees"] = gb["trees"][:n]
        gb["tree_info"] = gb["tree_info"][:n]
        gb["gbtree_model_param"]["num_trees"] = str(n)
        with open(sys.argv[4], "w") as f:
            json.dump(model, f, separators=(",", ":"))
    s = visits(gb["trees"], x)
    print("visited %d splits %d leaves %d" % (s + len(gb["trees"]), s, len(gb["trees"])))


if __name__ == "__main__":
    main()
