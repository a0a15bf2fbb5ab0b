"""What every chart of the dashboard bundle must show, as direct DuckDB queries on the marts.

One entry per chart UUID: the SQL computing the expected rows (grouping columns first, then one
column per metric, named like the chart's metric) and the grouping columns. Rates are ratios of
summed counts, never averages of row rates. A chart added to the bundle without an entry here
fails test_every_chart_has_an_expectation. The « Qualité des données » entries read the audit
tables and marts.fct_candidate_session, written here with FILTER / count() rather than the
datasets' CASE expressions (a mismatch is an explicit FALSE: NULL, an incomplete candidate, is
not one).
"""

from __future__ import annotations

PASS_RATE = "CAST(SUM(admitted) AS DOUBLE) / NULLIF(SUM(present), 0)"
ACQUISITION_RATE = "CAST(SUM(acquired) AS DOUBLE) / NULLIF(SUM(assessed), 0)"
BLOCKS_ONLY = "WHERE block_code IS NOT NULL"

EXPECTED: dict[str, dict] = {
    # --- Taux de réussite ---------------------------------------------------------------
    "98a9dc88-e6c3-536f-9126-df3de36abc5a": {  # Taux de réussite national
        "keys": [],
        "sql": f"SELECT {PASS_RATE} AS taux_reussite FROM marts.pass_rates",
    },
    "3fa30aac-cbfd-5363-9f0a-6da2795e7f41": {  # Candidats présents
        "keys": [],
        "sql": "SELECT SUM(present) AS presents FROM marts.pass_rates",
    },
    "b364aee4-7cbf-5092-8fca-dc5e25273a91": {  # Candidats admis
        "keys": [],
        "sql": "SELECT SUM(admitted) AS admis FROM marts.pass_rates",
    },
    "fd4ec6b0-590b-50e0-8757-2a865629b44d": {  # Taux de réussite par académie
        "keys": ["academy_name"],
        "sql": f"""SELECT academy_name, {PASS_RATE} AS taux_reussite
                   FROM marts.pass_rates GROUP BY academy_name""",
    },
    "c9a9c66d-6247-5039-95e1-ed475f9b1bc7": {  # Taux de réussite par session
        "keys": ["session"],
        "sql": f"""SELECT session, {PASS_RATE} AS taux_reussite
                   FROM marts.pass_rates GROUP BY session""",
    },
    "e3f7bd84-8dff-5c1c-a883-bd404f5027c3": {  # Résultats par voie d'accès
        "keys": ["access_route"],
        "sql": f"""SELECT access_route, SUM(registered) AS inscrits, SUM(present) AS presents,
                          SUM(admitted) AS admis, SUM(controle) AS controle,
                          SUM(refused) AS refuses, SUM(absent) AS absents,
                          {PASS_RATE} AS taux_reussite
                   FROM marts.pass_rates GROUP BY access_route""",
    },
    "893502c0-f36b-50cc-9789-1cc81df0b3e2": {  # Résultats par académie
        "keys": ["academy_code", "academy_name"],
        "sql": f"""SELECT academy_code, academy_name, SUM(registered) AS inscrits,
                          SUM(incomplete) AS incomplets, SUM(present) AS presents,
                          SUM(admitted) AS admis, SUM(controle) AS controle,
                          SUM(refused) AS refuses, SUM(absent) AS absents,
                          {PASS_RATE} AS taux_reussite
                   FROM marts.pass_rates GROUP BY academy_code, academy_name""",
    },
    # --- Capitalisation des blocs --------------------------------------------------------
    "ea1cfc21-dc6c-5e56-89d1-c830ef4c5d46": {  # Taux d'acquisition des blocs
        "keys": [],
        "sql": f"""SELECT {ACQUISITION_RATE} AS taux_acquisition
                   FROM marts.block_capitalisation {BLOCKS_ONLY}""",
    },
    "03039c4d-1194-5df9-8994-8fd95fc1ff09": {  # Blocs acquis par des non-admis
        "keys": [],
        "sql": f"""SELECT SUM(acquired_by_non_admitted) AS acquis_non_admis
                   FROM marts.block_capitalisation {BLOCKS_ONLY}""",
    },
    "ffccf759-7d4e-57a5-a747-ba72bb24a630": {  # Blocs validés par VAE
        "keys": [],
        "sql": f"""SELECT SUM(vae_validated) AS valides_vae
                   FROM marts.block_capitalisation {BLOCKS_ONLY}""",
    },
    "87dd6d0b-9c97-5890-af44-e00d05546a53": {  # Taux d'acquisition par unité
        "keys": ["unit_code"],
        "sql": f"""SELECT unit_code, {ACQUISITION_RATE} AS taux_acquisition
                   FROM marts.block_capitalisation GROUP BY unit_code""",
    },
    "6c1429d9-615c-5fa5-8817-5600d1e76c50": {  # Blocs de compétences par voie d'accès
        "keys": ["block_code", "access_route"],
        "sql": f"""SELECT block_code, access_route, SUM(assessed) AS evalues,
                          SUM(acquired) AS acquis,
                          SUM(acquired_by_non_admitted) AS acquis_non_admis,
                          SUM(vae_validated) AS valides_vae,
                          {ACQUISITION_RATE} AS taux_acquisition
                   FROM marts.block_capitalisation {BLOCKS_ONLY}
                   GROUP BY block_code, access_route""",
    },
    # --- Qualité des données ------------------------------------------------------------
    "f1568d6d-7c06-5b68-be56-b75079e2a459": {  # Fichiers reçus
        "keys": [],
        "sql": "SELECT count(*) AS fichiers FROM audit.file_manifest",
    },
    "4f946527-1389-5a6b-8a87-8a178ddda241": {  # Lignes en quarantaine
        "keys": [],
        "sql": "SELECT count(*) AS lignes FROM audit.quarantine",
    },
    "3f828b89-9942-5329-91a5-852470671399": {  # Écarts de décision du jury
        "keys": [],
        "sql": """SELECT count(*) FILTER (WHERE decision_matches = false) AS ecarts_decision
                   FROM marts.fct_candidate_session""",
    },
    "4158c4dd-20d6-5129-a438-7e2491950216": {  # Fichiers par statut
        "keys": ["status"],
        "sql": "SELECT status, count(*) AS fichiers FROM audit.file_manifest GROUP BY status",
    },
    "ac614e54-c2b8-5132-8e14-f46fce70e098": {  # Détail des fichiers reçus
        "keys": ["session", "academy_code", "file_name", "status", "reason"],
        "sql": """SELECT session, academy_code, file_name, status, reason,
                          SUM(rows_total) AS lignes_recues, SUM(rows_loaded) AS lignes_chargees,
                          SUM(rows_quarantined) AS lignes_quarantaine
                   FROM audit.file_manifest GROUP BY ALL""",
    },
    "1ae6c688-b095-5f8a-a921-47680e6714c3": {  # Lignes en quarantaine par motif
        "keys": ["reason_code"],
        "sql": "SELECT reason_code, count(*) AS lignes FROM audit.quarantine GROUP BY reason_code",
    },
    "99d40978-f88a-56f6-b604-46b4536eee0f": {  # Contrôles par exécution
        "keys": ["run_id", "suite"],
        "sql": """SELECT run_id, suite, count(*) AS controles,
                          count(*) FILTER (WHERE success IS NOT TRUE) AS echecs,
                          count(*) FILTER (WHERE success = false AND blocking) AS echecs_bloquants,
                          SUM(unexpected_count) AS valeurs_en_ecart
                   FROM audit.dq_results GROUP BY run_id, suite""",
    },
    "0f897cd9-6d80-59f9-80f0-afa4fd7b12fb": {  # Écarts jury par session et académie
        "keys": ["session", "academy_code"],
        "sql": """SELECT session, academy_code, count(decision_matches) AS candidats_compares,
                          count(*) FILTER (WHERE decision_matches = false) AS ecarts_decision,
                          count(*) FILTER (WHERE average_matches = false) AS ecarts_moyenne,
                          count(*) FILTER (WHERE decision_matches = false)
                            / NULLIF(count(decision_matches), 0) AS taux_ecart_decision
                   FROM marts.fct_candidate_session GROUP BY session, academy_code""",
    },
}
