"""What every chart of the dashboard bundle must show, as direct DuckDB queries on the marts.

One entry per chart UUID: the SQL computing the expected rows (grouping columns first, then one
column per metric, named like the chart's metric) and the grouping columns. Rates are ratios of
summed counts, never averages of row rates. A chart added to the bundle without an entry here
fails test_every_chart_has_an_expectation.
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
}
