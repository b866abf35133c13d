"""Exercise 4, complete: ``train --record-bias`` / ``--record NAME`` write, per update,
the sample, its data-file line, its class r, the probabilities p_i and the parameter
before and after; as CSV (English or Portuguese spreadsheet dialect) or xlsx."""

from __future__ import annotations

import csv
import io
import itertools
from importlib import resources

import numpy as np
import pytest

import retroprop as rp
from retroprop.cli import main
from retroprop.recipe import LECTURE, build_network, prepare_data


def run(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return e.value.code, out, err


def read_csv(text: str, sep: str = ",", decimal: str = ".") -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(text), delimiter=sep))
    out = []
    for row in rows:
        d: dict = {}
        for k, v in row.items():
            if k == "class":
                d[k] = v
            elif "." in v or "e" in v or (decimal != "." and decimal in v):
                d[k] = float(v.replace(decimal, ".")) if decimal != "." else float(v)
            else:
                d[k] = int(v)
        out.append(d)
    return out


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """One run of the lecture's training for 2 epochs, recorded in both dialects
    and as xlsx."""
    d = tmp_path_factory.mktemp("rec")
    paths = {"en": d / "b.csv", "pt": d / "b_pt.csv", "xlsx": d / "b.xlsx"}
    for key, extra in (
        ("en", []),
        ("pt", ["--csv-dialect", "pt"]),
        ("xlsx", []),
    ):
        with pytest.raises(SystemExit) as e:
            main(
                [
                    "train",
                    "-q",
                    "--epochs",
                    "2",
                    "--record-bias",
                    str(paths[key]),
                    *extra,
                ]
            )
        assert e.value.code == 0
    return paths


def test_each_row_is_the_lectures_hand_update(recorded):
    rows = read_csv(recorded["en"].read_text())
    assert len(rows) == 240  # 120 training samples, 2 epochs, batch size 1
    eta = LECTURE["lr"]
    for row in rows:
        p = np.array([row[f"p_{i}"] for i in range(3)])
        before = np.array([row[f"4.bias[{i}] before"] for i in range(3)])
        after = np.array([row[f"4.bias[{i}] after"] for i in range(3)])
        delta_r = np.eye(3)[row["r"]]
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        # b_i <- b_i - eta * (p_i - delta_ri): the update the student redoes by hand
        np.testing.assert_allclose(after, before - eta * (p - delta_r), atol=1e-15)
    # each row's "after" is the next row's "before"
    for a, b in itertools.pairwise(rows):
        for i in range(3):
            assert a[f"4.bias[{i}] after"] == b[f"4.bias[{i}] before"]


def test_sample_line_and_class_point_at_the_data_file(recorded):
    rows = read_csv(recorded["en"].read_text())
    split = prepare_data()
    with resources.as_file(resources.files("retroprop.datasets") / "iris.csv") as path:
        lines = path.read_text().splitlines()
    header = lines[0].split(",")
    for row in rows[:130]:
        cells = lines[row["line"] - 1].split(",")  # line 1 is the header
        values = np.array(
            [float(c) for c, h in zip(cells, header) if h != "species"], dtype=float
        )
        np.testing.assert_allclose(values, split.X_train_raw[row["sample"]], rtol=1e-12)
        assert cells[header.index("species")] == row["class"]
        assert split.dataset.class_names[row["r"]] == row["class"]
        assert split.y_train[row["sample"]] == row["r"]
    # the samples follow train's order: one permutation of the 120 rows per epoch
    order = np.random.default_rng(LECTURE["seed"]).permutation(120)
    assert [r["sample"] for r in rows[:120]] == order.tolist()


def test_the_probabilities_are_the_networks_before_the_update(recorded):
    rows = read_csv(recorded["en"].read_text())
    split = prepare_data()
    net = build_network(split)
    for row in rows[:3]:
        t = rp.explain_step(
            net, split.X_train[row["sample"]], row["r"], lr=LECTURE["lr"]
        )
        np.testing.assert_allclose(
            [row[f"p_{i}"] for i in range(3)], t.probabilities[0], rtol=1e-12
        )
        net.load_state_dict(t.updated())


def test_portuguese_dialect_has_semicolons_and_decimal_commas(recorded):
    en, pt = recorded["en"].read_text(), recorded["pt"].read_text()
    first = pt.splitlines()[1]
    assert ";" in first and "." not in first and "," in first
    assert pt.splitlines()[0].split(";")[0] == "iteration"
    assert read_csv(pt, ";", ",") == read_csv(en)


def test_xlsx_holds_numbers_as_numbers(recorded):
    openpyxl = pytest.importorskip("openpyxl")
    ws = openpyxl.load_workbook(recorded["xlsx"]).active
    rows = list(ws.iter_rows(values_only=True))
    header, body = list(rows[0]), rows[1:]
    en = read_csv(recorded["en"].read_text())
    assert header == list(en[0])
    assert len(body) == len(en)
    for got, want in zip(body, en):
        for h, v in zip(header, got):
            if h == "class":
                assert v == want[h]
            else:
                assert isinstance(v, (int, float)) and not isinstance(v, bool)
                # openpyxl writes 16 significant digits (a spreadsheet keeps 15)
                assert v == pytest.approx(want[h], rel=1e-15, abs=0)


def test_record_any_parameter_by_name(capsys, tmp_path):
    path = tmp_path / "w.csv"
    code, _, err = run(
        capsys,
        "train",
        "-q",
        "--epochs",
        "1",
        "--record",
        "2.weight",
        "--record",
        "4.bias",
        "--record-to",
        path,
    )
    assert code == 0, err
    rows = read_csv(path.read_text())
    assert len(rows) == 120
    assert "2.weight[2,3] before" in rows[0] and "4.bias[2] after" in rows[0]
    # the library's recording of the same run, to the bit
    split = prepare_data()
    net = build_network(split)
    rec = rp.RecordParameter("2.weight")
    rp.train(
        net,
        split.X_train,
        split.y_train,
        epochs=1,
        lr=LECTURE["lr"],
        seed=LECTURE["seed"],
        callbacks=[rec],
    )
    for row, before, after in zip(rows, rec.values, rec.after):
        assert row["2.weight[1,2] before"] == before[1, 2]
        assert row["2.weight[1,2] after"] == after[1, 2]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--record", "fc9.bias", "--record-to", "x.csv"], "0.weight, 0.bias"),
        (["--record", "4.bias"], "--record needs a file to write to"),
        (["--record-to", "x.csv"], "--record-to needs a parameter"),
        (
            ["--record-bias", "a.csv", "--record-to", "b.csv", "--record", "4.bias"],
            "give one",
        ),
    ],
)
def test_bad_recording_options_are_one_line_errors(
    capsys, tmp_path, monkeypatch, args, says
):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "train", "-q", "--epochs", "1", *args)
    assert code == 2
    assert says in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_library_recorder_keeps_the_sample_columns():
    split = prepare_data()
    net = rp.mlp([4, 4, 3, 3], seed=1, names=["fc1", "fc2", "fc3"])
    rec = rp.RecordParameter("fc3.bias", split.X_train, split.y_train)
    rp.train(
        net,
        split.X_train,
        split.y_train,
        epochs=1,
        lr=0.05,
        batch_size=4,
        callbacks=[rec],
    )
    assert len(rec.values) == len(rec.after) == 30
    assert [len(s) for s in rec.samples] == [4] * 30
    for s, r, p in zip(rec.samples, rec.targets, rec.probabilities):
        np.testing.assert_array_equal(split.y_train[s], r)
        assert p.shape == (4, 3)
    from retroprop.teach import record_table

    table = record_table([rec])
    assert len(table.rows) == 120  # one row per sample of every update
    assert table.header[:3] == ["iteration", "epoch", "sample"]


def test_explain_model_says_where_the_weights_came_from(capsys, tmp_path):
    model = tmp_path / "trained.safetensors"
    code, _, err = run(capsys, "train", "-q", "--epochs", "3", "--save", model)
    assert code == 0, err
    code, out, err = run(capsys, "explain", "--model", model, "--format", "json")
    assert code == 0, err
    import json

    meta = json.loads(out)["meta"]
    assert meta["weights"]["file"] == str(model)
    assert meta["weights"]["epochs"] == 3
    for fmt in ("markdown", "table"):
        code, out, err = run(
            capsys, "explain", "--model", model, "--format", fmt, "--step", "2"
        )
        assert code == 0, err
        text = " ".join(out.split()).lower()
        assert f"weights from {model} (trained for 3 epochs)" in text
        assert "update 2 of training continued from them" in text
        assert "(step 2" not in text
    # new weights: the step of a training run, as before
    code, out, err = run(capsys, "explain", "--format", "markdown")
    assert "Step 1, sample" in out and "weights from" not in out


def test_a_plain_recorder_on_the_compiled_path_keeps_before_and_after():
    # RecordParameter without X, y is recorded inside the compiled loops (the run is
    # the unrecorded one); its `after` is the next update's `before` and, for the
    # last update, the trained parameter, as the NumPy engine records it
    pytest.importorskip("numba")
    split = prepare_data()
    recs, nets, engines = {}, {}, {}
    for engine in ("fast", "numpy"):
        nets[engine] = rp.mlp([4, 4, 3, 3], seed=1)
        recs[engine] = rp.RecordParameter("4.bias")
        h = rp.train(
            nets[engine],
            split.X_train,
            split.y_train,
            epochs=2,
            lr=0.05,
            batch_size=1,
            callbacks=[recs[engine]],
            engine=engine,
        )
        engines[engine] = h.engine
    assert engines == {"fast": "fast", "numpy": "numpy"}
    fast, ref = recs["fast"], recs["numpy"]
    assert len(fast.after) == len(fast.values) == len(ref.after) == 240
    for u in range(239):
        np.testing.assert_array_equal(fast.after[u], fast.values[u + 1])
    np.testing.assert_array_equal(fast.after[-1], nets["fast"].state_dict()["4.bias"])
    np.testing.assert_allclose(
        np.array(fast.after), np.array(ref.after), rtol=0, atol=1e-12
    )
    assert fast.samples == []  # the compiled paths do not hand the batches over
    from retroprop.teach import record_table

    table = record_table([fast])
    assert table.header == [
        "iteration",
        "epoch",
        *[f"4.bias[{i}] before" for i in range(3)],
        *[f"4.bias[{i}] after" for i in range(3)],
    ]
    assert len(table.rows) == 240
    assert table.rows[-1][-3:] == [float(v) for v in fast.after[-1]]


def test_a_recorder_given_the_data_trains_on_the_numpy_engine():
    pytest.importorskip("numba")
    split = prepare_data()
    rec = rp.RecordParameter("4.bias", split.X_train, split.y_train)
    h = rp.train(
        rp.mlp([4, 4, 3, 3], seed=1),
        split.X_train,
        split.y_train,
        epochs=1,
        lr=0.05,
        callbacks=[rec],
    )
    assert h.engine == "numpy"  # r and p_i are computed in Python before each update
    assert len(rec.samples) == len(rec.targets) == len(rec.probabilities) == 120


def test_a_regression_run_records_the_parameter_and_the_rows(capsys, tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "reg.csv"
    X = rng.random((40, 2))
    y = 2 * X[:, 0] - X[:, 1] + 0.1 * rng.random(40)
    data.write_text(
        "a,b,y\n" + "".join(f"{a:.4f},{b:.4f},{t:.5f}\n" for (a, b), t in zip(X, y))
    )
    out = tmp_path / "rec.csv"
    code, _, err = run(
        capsys, "train", "-q", "--data", data, "--epochs", "1", "--record-bias", out
    )
    assert code == 0, err
    rows = read_csv(out.read_text())
    assert list(rows[0]) == [
        "iteration",
        "epoch",
        "sample",
        "line",
        "4.bias[0] before",
        "4.bias[0] after",
    ]
    assert [r["iteration"] for r in rows] == list(range(1, 33))  # 32 training rows
    for a, b in itertools.pairwise(rows):
        assert b["4.bias[0] before"] == a["4.bias[0] after"]
    assert {r["line"] for r in rows} <= set(range(2, 42))


def test_replayed_samples_and_probabilities_equal_the_recorded_ones():
    # the command line records with plain recorders (the compiled run, unchanged by
    # recording) and replays each update's batch, r and p_i afterwards: the same as
    # a recorder that computes them in Python during training
    import copy

    from retroprop.teach.record import replay_samples

    split = prepare_data()
    X, y = split.X_train, split.y_train
    live = rp.RecordParameter("4.bias", X, y)
    rp.train(build_network(split), X, y, epochs=2, lr=0.05, batch_size=3, seed=5,
             callbacks=[live])  # fmt: skip
    net = build_network(split)
    start = copy.deepcopy(net)
    snaps = [rp.RecordParameter(name) for name, _ in net.named_parameters()]
    h = rp.train(net, X, y, epochs=2, lr=0.05, batch_size=3, seed=5, callbacks=snaps)
    rec = snaps[-1]
    replay_samples(rec, start, snaps, X, y, batch_size=3, seed=5)
    assert rec.iterations == live.iterations and len(rec.samples) == h.iterations
    for a, b in zip(rec.samples, live.samples):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(rec.targets, live.targets):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(
        np.concatenate(rec.probabilities),
        np.concatenate(live.probabilities),
        rtol=0,
        atol=1e-12,
    )


def test_a_large_recording_computes_the_samples_during_training(
    capsys, tmp_path, monkeypatch
):
    import retroprop.cli.train as cli_train

    paths = {}
    for key, cap in (("replayed", cli_train.RECORD_REPLAY_FLOATS), ("live", 0)):
        monkeypatch.setattr(cli_train, "RECORD_REPLAY_FLOATS", cap)
        paths[key] = tmp_path / f"{key}.csv"
        code, _, err = run(
            capsys, "train", "-q", "--epochs", "1", "--record-bias", paths[key]
        )
        assert code == 0, err
    replayed, live = (read_csv(paths[k].read_text()) for k in ("replayed", "live"))
    assert list(replayed[0]) == list(live[0])
    assert len(replayed) == len(live) == 120
    for a, b in zip(replayed, live):
        for k in ("iteration", "epoch", "sample", "line", "r", "class"):
            assert a[k] == b[k], k
        for k in a:
            if k.startswith(("p_", "4.bias")):
                assert a[k] == pytest.approx(b[k], rel=0, abs=1e-12), k
