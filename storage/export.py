"""``pult store export DIR``: the embedded store in mongodump's directory format.

An installation that outgrows the embedded store moves to MongoDB in one step::

    pult store export /tmp/pult-dump          # with the server stopped (it holds the data dir)
    mongorestore --uri "$MONGO_URL" /tmp/pult-dump

The layout is mongodump's: ``DIR/<database>/<collection>.bson`` (the documents, one BSON document
after another) and ``DIR/<database>/<collection>.metadata.json`` (Extended JSON: the collection's
indexes with their options, its name and type), so ``mongorestore`` recreates the documents and
the indexes exactly. Documents are written from the store's own data one at a time (no copy of a
collection in memory); datetimes are BSON dates (UTC), ids keep their types.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import bson
from bson import SON, json_util

_INDEX_OPTIONS = ("unique", "sparse", "partialFilterExpression", "expireAfterSeconds")


def _index_spec(name: str, info: dict) -> dict:
    spec = SON([("v", 2), ("key", SON([(k, d) for k, d in info["key"]])), ("name", name)])
    for opt in _INDEX_OPTIONS:
        if info.get(opt) is not None:
            spec[opt] = info[opt]
    return spec


def export_embedded(engine, out_dir: Path) -> dict[str, int]:
    """Write every collection of ``engine`` (an :class:`storage.embedded.EmbeddedEngine`) under
    ``out_dir``; returns ``{"<db>.<collection>": documents written}``."""
    out_dir = Path(out_dir)
    written: dict[str, int] = {}
    with engine.lock:
        for db_name in engine.client.list_database_names():
            db = engine.client[db_name]
            target = out_dir / db_name
            target.mkdir(parents=True, exist_ok=True)
            for name in sorted(db.list_collection_names()):
                coll = db[name]
                n = 0
                tmp = target / f"{name}.bson.tmp"
                with open(tmp, "wb", buffering=1 << 20) as f:
                    for doc in coll._store.documents:
                        f.write(bson.encode(doc))
                        n += 1
                os.replace(tmp, target / f"{name}.bson")
                indexes = [_index_spec(iname, info) for iname, info in coll.index_information().items()]
                meta = {"indexes": indexes, "uuid": uuid.uuid4().hex, "collectionName": name,
                        "type": "collection"}
                (target / f"{name}.metadata.json").write_text(
                    json_util.dumps(meta, json_options=json_util.CANONICAL_JSON_OPTIONS))
                written[f"{db_name}.{name}"] = n
    return written
