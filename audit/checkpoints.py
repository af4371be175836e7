"""Signed checkpoints of the chain head, and their export to files kept outside the database
(like SQL Server ledger digests). Only the public key is needed to check one."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, insert, select

from audit.chain import head
from audit.log import now_us
from audit.tables import checkpoints

MAGIC = b"ACPv1"


class Signer(Protocol):
    @property
    def key_id(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


class Verifier(Protocol):
    def verify(self, key_id: str, data: bytes, signature: bytes) -> bool: ...


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    hash: bytes
    made_us: int
    key_id: str
    signature: bytes

    def payload(self) -> bytes:
        return signed_bytes(self.seq, self.hash, self.made_us, self.key_id)

    def to_json(self) -> dict[str, object]:
        return {"seq": self.seq, "hash": self.hash.hex(), "made_us": self.made_us, "key_id": self.key_id,
                "signature": base64.b64encode(self.signature).decode(), "format": MAGIC.decode()}

    @classmethod
    def from_json(cls, doc: dict[str, object]) -> Checkpoint:
        return cls(int(str(doc["seq"])), bytes.fromhex(str(doc["hash"])), int(str(doc["made_us"])),
                   str(doc["key_id"]), base64.b64decode(str(doc["signature"])))


def signed_bytes(seq: int, digest: bytes, made_us: int, key_id: str) -> bytes:
    return b"|".join([MAGIC, str(seq).encode(), digest.hex().encode(), str(made_us).encode(), key_id.encode()])


def make(conn: Connection, signer: Signer) -> Checkpoint | None:
    """Sign the current head (after integrating); None when the chain is empty or unchanged."""
    seq, digest, _ = head(conn)
    if seq == 0:
        return None
    last = conn.execute(select(checkpoints.c.seq).order_by(checkpoints.c.seq.desc()).limit(1)).scalar()
    if last == seq:
        return latest(conn)
    made = now_us()
    signature = signer.sign(signed_bytes(seq, digest, made, signer.key_id))
    checkpoint = Checkpoint(seq, digest, made, signer.key_id, signature)
    conn.execute(insert(checkpoints), {"seq": seq, "hash": digest, "made_us": made, "key_id": signer.key_id,
                                       "signature": checkpoint.signature})
    return checkpoint


def listed(conn: Connection, *, limit: int = 100, before: int | None = None) -> list[Checkpoint]:
    query = select(checkpoints).order_by(checkpoints.c.seq.desc()).limit(limit)
    if before is not None:
        query = query.where(checkpoints.c.seq < before)
    return [Checkpoint(r.seq, bytes(r.hash), r.made_us, r.key_id, bytes(r.signature)) for r in conn.execute(query)]


def latest(conn: Connection) -> Checkpoint | None:
    found = listed(conn, limit=1)
    return found[0] if found else None


def export(checkpoint: Checkpoint, path: Path) -> None:
    path.write_text(json.dumps(checkpoint.to_json(), indent=2) + "\n")


def load(path: Path) -> Checkpoint:
    return Checkpoint.from_json(json.loads(path.read_text()))
