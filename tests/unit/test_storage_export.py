"""Issue 11: ``pult store export DIR`` writes mongodump's directory format — read back with the
bson codec, every collection equals the store (documents with their types, and the indexes with
their options), so ``mongorestore`` moves an installation to MongoDB in one step."""
from __future__ import annotations

from datetime import datetime, timezone

import bson
from bson import ObjectId, json_util

from storage.client import open_store
from pult.cli import main


async def test_export_reads_back_equal_to_the_store(settings, tmp_path, monkeypatch, capsys):
    st = open_store(settings)
    await st.start()  # the repositories' indexes, the migrations' state
    db = st.db
    at = datetime(2026, 2, 3, 4, 5, 6, 789000, tzinfo=timezone.utc)
    await db.call_records.insert_one({"uuid": "c1", "pbx_id": 7, "start": at, "billsec": 61,
                                      "vars": {"a": "б"}, "legs": [{"n": 1}, {"n": 2}], "cost": 1.5})
    await db.things.insert_many([{"_id": "s1", "at": at, "flag": True, "none": None},
                                 {"_id": ObjectId(), "blob": b"\x00\x01", "n": 2 ** 40}])
    await db.things.create_index([("at", -1), ("n", 1)], name="at_n", sparse=True)
    await db.things.create_index([("flag", 1)], name="flag_partial", partialFilterExpression={"flag": True})
    expected = {}
    for name in await db.list_collection_names():
        docs = await db[name].find({}).to_list(None)
        expected[name] = ({str(d["_id"]): d for d in docs}, await db[name].index_information())
    await st.close()

    out = tmp_path / "dump"
    monkeypatch.setenv("PULT_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("MONGO_URL", raising=False)
    assert main(["store", "export", str(out)]) == 0
    assert "mongorestore" in capsys.readouterr().out
    target = out / settings.mongo_db
    assert {p.name[:-5] for p in target.glob("*.bson")} == set(expected)
    opts = bson.CodecOptions(tz_aware=True)
    for name, (docs, indexes) in expected.items():
        with open(target / f"{name}.bson", "rb") as f:
            back = {str(d["_id"]): d for d in bson.decode_file_iter(f, codec_options=opts)}
        assert back == docs, name
        meta = json_util.loads((target / f"{name}.metadata.json").read_text())
        assert meta["collectionName"] == name and meta["type"] == "collection"
        got = {i["name"]: i for i in meta["indexes"]}
        assert set(got) == set(indexes), name
        for iname, info in indexes.items():
            assert list(got[iname]["key"].items()) == [tuple(k) for k in info["key"]], iname
            for opt in ("unique", "sparse", "partialFilterExpression"):
                assert got[iname].get(opt) == info.get(opt), (iname, opt)
    assert expected["things"][1]["at_n"]["sparse"] is True


def test_export_refuses_while_the_server_holds_the_data_dir(settings, tmp_path, monkeypatch, capsys):
    from storage.embedded import EmbeddedEngine

    engine = EmbeddedEngine(settings.data_dir)  # a running server holds the lock
    try:
        monkeypatch.setenv("PULT_DATA_DIR", str(settings.data_dir))
        monkeypatch.delenv("MONGO_URL", raising=False)
        assert main(["store", "export", str(tmp_path / "dump")]) == 1
        assert "in use by" in capsys.readouterr().err
        assert not (tmp_path / "dump").exists()
    finally:
        engine.close()
