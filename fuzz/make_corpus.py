#!/usr/bin/python3
"""Writes the seed corpus of calib's fuzz targets into fuzz/corpus/.

Run from the project root with Debian's Python (numpy needed):
    /usr/bin/python3 fuzz/make_corpus.py
Each seed is small (a few hundred bytes) and valid or nearly valid, so that
libFuzzer starts from inputs that reach deep into the readers. The CSV
target reads one leading byte that chooses the reader's options (see
fuzz/fuzz_csv.c); its seeds carry that byte.
"""
import io
import os
import shutil
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def npy_bytes(arr, version=None):
    buf = io.BytesIO()
    if version is None:
        np.save(buf, arr)
    else:
        np.lib.format.write_array(buf, arr, version=version)
    return buf.getvalue()


def npz_bytes(compressed, **arrays):
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def main():
    # only the targets written here: the model seeds come from
    # fuzz/make_model_seeds.c
    for target in ("npy", "npz", "csv", "toplabel"):
        d = os.path.join(ROOT, target)
        if os.path.isdir(d):
            shutil.rmtree(d)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(5, 3))
    y = np.array([0, 2, 1, 1, 0])

    # .npy: predictions of each dtype, order, version; labels of each width
    put("npy", "f8_le.npy", npy_bytes(x.astype("<f8")))
    put("npy", "f8_be.npy", npy_bytes(x.astype(">f8")))
    put("npy", "f4_le.npy", npy_bytes(x.astype("<f4")))
    put("npy", "f4_be.npy", npy_bytes(x.astype(">f4")))
    put("npy", "f8_fortran.npy", npy_bytes(np.asfortranarray(x)))
    put("npy", "f4_v2.npy", npy_bytes(x.astype("<f4"), (2, 0)))
    put("npy", "f8_v3.npy", npy_bytes(x, (3, 0)))
    put("npy", "f8_1d.npy", npy_bytes(x[:, 0].copy()))
    put("npy", "f4_n1.npy", npy_bytes(x[:, :1].astype("<f4")))
    put("npy", "f8_empty.npy", npy_bytes(np.zeros((0, 3))))
    put("npy", "i8_labels.npy", npy_bytes(y.astype("<i8")))
    put("npy", "i1_labels.npy", npy_bytes(y.astype("i1")))
    put("npy", "u2_labels_be.npy", npy_bytes(y.astype(">u2")))
    put("npy", "i4_labels_n1.npy", npy_bytes(y.astype("<i4")[:, None]))
    put("npy", "u8_labels.npy", npy_bytes(y.astype("<u8")))
    put("npy", "bool_labels.npy", npy_bytes(y.astype(bool)))
    put("npy", "i8_labels_fortran.npy",
        npy_bytes(np.asfortranarray(y.astype("<i8")[:, None])))

    # .npz: stored and deflated archives; the target reads members x and y
    put("npz", "stored.npz", npz_bytes(False, x=x, y=y))
    put("npz", "deflated.npz", npz_bytes(True, x=x.astype("<f4"), y=y))
    put("npz", "single.npz", npz_bytes(False, x=x))
    put("npz", "single_deflated.npz", npz_bytes(True, x=x[:, 0].copy()))
    put("npz", "netcal_like.npz",
        npz_bytes(True, predictions=np.full((2, 2), 0.5), ground_truth=y[:2]))

    # CSV: byte 0 selects the options (see fuzz_csv.c); 0 = the defaults,
    # 0x29 = comma, header, label column 3; 0x07 = semicolon, no header
    rows = "".join("%d,%.6g,%.6g,%.6g\n" % ((y[i],) + tuple(x[i]))
                   for i in range(5))
    put("csv", "header.csv", b"\x00" + b"label,a,b,c\n" + rows.encode())
    put("csv", "noheader.csv", b"\x00" + rows.encode())
    put("csv", "tsv.csv", b"\x00" + rows.replace(",", "\t").encode())
    put("csv", "crlf.csv",
        b"\x00" + ("y,p0,p1\r\n0,0.25,0.75\r\n1,0.5,0.5\r\n").encode())
    put("csv", "labelcol3.csv",
        b"\x29" + b"p0,p1,y\n0.1,0.9,1\n0.8,0.2,0\n")
    put("csv", "semicolon.csv", b"\x07" + b"0;1e-3;-2.5\n1;inf;nan\n")
    put("csv", "quoted.csv", b"\x00" + b"\"label\",\"p\"\n1,0.5\n0,0.25\n")

    # top-label CSVs, as in ../shared/data/*-toplabel
    put("toplabel", "plain.csv",
        b"true_label,pred_label,confidence\n3,3,0.91\n1,7,0.42\n0,0,1\n")
    put("toplabel", "reordered.csv",
        b"confidence,true_label,pred_label\n0.5,1,1\n0,2,0\n")
    put("toplabel", "crlf.csv",
        b"true_label,pred_label,confidence\r\n999,12,0.0625\r\n")
    put("toplabel", "extra_col.csv",
        b"id,true_label,pred_label,confidence\n7,1,1,0.75\n8,0,1,0.6\n")


if __name__ == "__main__":
    main()
