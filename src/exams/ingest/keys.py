"""Candidate keys: each candidate number gets a meaningless integer `candidate_id` (what the
stored rows carry) and its keyed hash `candidate_key` (HMAC-SHA256 with EXAMS_PSEUDONYM_KEY,
what is published), once per number, computed inside DuckDB."""

from __future__ import annotations

import hashlib
import hmac

import duckdb


def key_fingerprint(key: bytes) -> str:
    """A check value of the pseudonymisation key (not the key): tells when it changed."""
    return hmac.new(key, b"exams key check value", hashlib.sha256).hexdigest()


def _key_pads(key: bytes) -> tuple[str, str]:
    """HMAC-SHA256's inner and outer pads (hex), so that the keyed hash runs in DuckDB."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    k = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in k).hex(), bytes(b ^ 0x5C for b in k).hex()


def hmac_sql(column: str, key: bytes) -> str:
    ipad, opad = _key_pads(key)
    return f"sha256(unhex('{opad}') || unhex(sha256(unhex('{ipad}') || encode({column}))))"


def candidate_key(numero: str, key: bytes) -> str:
    """The same keyed hash in Python (tests and one-off look-ups)."""
    return hmac.new(key, numero.encode(), hashlib.sha256).hexdigest()


def add_keys(con: duckdb.DuckDBPyConnection, source: str, key: bytes) -> None:
    """Every candidate number of `source` not yet known gets the next candidate_id and its
    keyed hash, once per number."""
    con.execute(
        f"""INSERT INTO raw.candidate_keys
        SELECT
            (SELECT coalesce(max(candidate_id), 0) FROM raw.candidate_keys)
                + row_number() OVER (),
            numero_candidat,
            {hmac_sql("numero_candidat", key)}
        FROM (SELECT DISTINCT numero_candidat FROM {source} WHERE numero_candidat <> '') AS n
        WHERE NOT EXISTS (
            SELECT 1 FROM raw.candidate_keys AS k WHERE k.numero_candidat = n.numero_candidat
        )"""
    )


def rekey(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Every candidate's keyed hash computed again with a new key."""
    con.execute(f"UPDATE raw.candidate_keys SET candidate_key = {hmac_sql('numero_candidat', key)}")
