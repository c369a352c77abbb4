"""The report's aggregation and statistics on tiny frames whose answers are known (no I/O, no model)."""
import math

import numpy as np
import pandas as pd
import pytest
from report_fixtures import AGE, ETALAB_COMMUNES, ETALAB_DEPARTEMENTS, ETALAB_REGIONS, as_read, communes_csv, predictions
from scipy import stats

from pipeline.errors import PipelineError
from pipeline.report.aggregates import amounts_by_domain, crosstab, domain_table, group_summary, top_domains
from pipeline.report.analysis import build_report
from pipeline.report.communes import (
    CommuneReference,
    _resolve_chains,
    reference_from_csv,
    reference_from_etalab,
    size_band,
)
from pipeline.report.compose import compose
from pipeline.report.join import join_communes
from pipeline.report.prepare import (
    Columns,
    classify_beneficiaries,
    normalize_commune_code,
    normalize_departement,
    parse_amount,
    prepare_predictions,
)
from pipeline.report.render import to_html, to_markdown
from pipeline.report.sentences import findings
from pipeline.report.statistics import independence, partial_spearman, spearman


@pytest.fixture()
def ref() -> CommuneReference:
    return reference_from_etalab(ETALAB_COMMUNES, ETALAB_DEPARTEMENTS, ETALAB_REGIONS)


@pytest.fixture()
def pred(labels) -> pd.DataFrame:
    return prepare_predictions(predictions(), labels)


def test_commune_codes_get_back_their_leading_zero():
    codes, valid = normalize_commune_code(pd.Series(["1004", "01004", " 08004 ", "2a004", "1004.0", "", "123",
                                                     None, "75056"]))
    assert codes.tolist() == ["01004", "01004", "08004", "2A004", "01004", "", "123", "", "75056"]
    assert valid.tolist() == [True, True, True, True, True, False, False, False, True]


def test_departement_codes_as_the_cog_writes_them():
    raw = pd.Series(["001", "1", "01", "020A", "20A", "2B", "691", "67A", "971", "095", "nan", ""])
    assert normalize_departement(raw).tolist() == ["01", "01", "01", "020A", "2A", "2B", "69", "67", "971",
                                                   "95", "", ""]


@pytest.mark.parametrize("text, value", [
    ("21 667,00 €", 21667.0), ("21\u202f667,00\u00a0€", 21667.0), ("310000,0", 310000.0), ("1.234,5", 1234.5),
    ("1,234.5", 1234.5), ("12815.5", 12815.5), ("1.234.567", 1234567.0), ("-", math.nan), ("", math.nan),
    ("n/a", math.nan), ("600 092 EUR", 600092.0),
])
def test_amounts_are_read_in_french_formats(text, value):
    got = parse_amount(pd.Series([text])).iloc[0]
    assert (math.isnan(got) and math.isnan(value)) or got == pytest.approx(value)


def test_beneficiaries_are_classified_by_type_then_name_then_code():
    types = pd.Series(["commune", "epci", "", "", "departement", "", "Syndicat mixte", "", "Communauté de communes"])
    names = pd.Series(["Aire", "CC Bugey", "SYND RIVIERE AIN", "SAINT-MAURICE", "Ain", "Echallon", "", "", ""])
    has_code = pd.Series([True, False, True, True, False, False, False, False, False])
    assert classify_beneficiaries(types, names, has_code).tolist() == [
        "commune", "groupement", "groupement", "commune", "departement", "inconnu", "groupement", "inconnu",
        "groupement"]
    # Without a type column, a name like "CC du ..." or "SYND ..." is enough; a commune code makes a commune.
    assert classify_beneficiaries(None, pd.Series(["Cc du Pays", "Sivom de X", "Lyon"]),
                                  pd.Series([True, True, True])).tolist() == ["groupement", "groupement", "commune"]


def test_size_bands_have_the_barometer_bounds():
    bands = size_band(pd.Series([0, 499, 500, 999, 1000, 1999, 2000, 3499, 3500, 9999, 10000, 49999, 50000,
                                 99999, 100000, 2_100_000, np.nan]))
    assert bands.astype(object).tolist()[:-1] == [
        "moins de 500", "moins de 500", "500 à 999", "500 à 999", "1 000 à 1 999", "1 000 à 1 999",
        "2 000 à 3 499", "2 000 à 3 499", "3 500 à 9 999", "3 500 à 9 999", "10 000 à 49 999", "10 000 à 49 999",
        "50 000 à 99 999", "50 000 à 99 999", "100 000 et plus", "100 000 et plus"]
    assert pd.isna(bands.iloc[-1])


def test_etalab_reference_maps_former_codes_and_districts(ref):
    assert list(ref.communes.index) == ["01001", "01002", "01003", "01004", "02001", "03001"]
    assert ref.former == {"01099": "01002"}
    assert ref.communes.loc["02001", "nom_region"] == "Hauts-de-France"
    assert not ref.has_age
    districts = reference_from_etalab(
        [{"code": "75056", "nom": "Paris", "type": "commune-actuelle", "departement": "75", "region": "11",
          "population": 2_100_000},
         {"code": "75101", "nom": "Paris 1er", "type": "arrondissement-municipal", "commune": "75056",
          "departement": "75", "region": "11"}], [], [])
    assert districts.former == {"75101": "75056"}
    current, how = ref.resolve(pd.Series(["01002", "01099", "99999", ""]))
    assert current.tolist() == ["01002", "01002", "", ""] and how.tolist() == ["current", "former", "unknown",
                                                                                 "unknown"]


def test_former_code_chains_end_at_todays_commune():
    assert _resolve_chains({"A": "B", "B": "C", "X": "Y", "Y": "X"}, {"C"}) == {"A": "C", "B": "C"}


def test_csv_reference_reads_population_and_age(tmp_path, ref):
    frame = pd.read_csv(communes_csv(tmp_path / "c.csv"), dtype=str, keep_default_na=False)
    csv_ref = reference_from_csv(frame, "c.csv", ref.former)
    assert csv_ref.has_age and csv_ref.communes.loc["01003", "pct_75p"] == 10.0
    assert csv_ref.communes.loc["01002", "population"] == 1500
    assert csv_ref.former == {"01099": "01002"}
    with pytest.raises(PipelineError, match="c.csv: no column 'code_insee'"):
        reference_from_csv(frame.drop(columns="code_insee"), "c.csv")


def test_join_reports_every_row_and_lists_codes_that_do_not_join(pred, ref):
    columns = Columns.detect(pred.columns)
    assert (columns.code, columns.type, columns.year, columns.cost) == (
        "beneficiaire_code_insee", "beneficiaire_type", "exercice", "cout_ht")
    joined = join_communes(pred, columns, ref)
    assert joined["jointure"].value_counts().to_dict() == {"current": 13, "not_commune": 2, "unknown": 2,
                                                           "former": 1}
    assert joined.loc[0, "code_actuel"] == "01001"  # "1001" lost its zero
    assert joined.loc[14, "entite"] == "groupement" and joined.loc[14, "code_actuel"] == ""  # EPCI with a code
    assert joined.loc[17, "entite"] == "inconnu"
    from pipeline.report.join import unjoined_codes

    unjoined = unjoined_codes(pred, joined, columns, ref)
    assert unjoined["code"].tolist() == ["01500", "99999"]
    assert unjoined.set_index("code").loc["01500", "indice"] == "code postal de Beta (code INSEE 01002)"


def test_domain_table_counts_shares_digital_and_review(pred, labels):
    table = domain_table(pred, labels)
    assert table["initiatives"].sum() == 17
    assert table.loc["education", "initiatives"] == 7
    assert table.loc["education", "part"] == pytest.approx(7 / 17)
    assert table.loc["securite", "numeriques"] == 2 and table["numeriques"].sum() == 3
    assert table.loc["securite", "part_numeriques"] == pytest.approx(2 / 3)
    assert table.loc["culture", "part_a_revoir"] == 1.0 and table.loc["education", "part_a_revoir"] == 0.0
    assert table.loc["economie", "initiatives"] == 0  # every domain is listed


def test_spearman_matches_a_hand_computation():
    got = spearman(pd.Series([1, 2, 3, 4, 5]), pd.Series([5, 6, 7, 8, 7]))
    assert got["rho"] == pytest.approx(8 / math.sqrt(95)) and got["n"] == 5
    assert math.isnan(spearman(pd.Series([1, 1, 1]), pd.Series([1, 2, 3]))["rho"])


def test_partial_spearman_equals_the_correlation_of_rank_residuals():
    rng = np.random.default_rng(0)
    z = pd.Series(rng.normal(size=200))
    x = z + pd.Series(rng.normal(size=200))
    y = z + pd.Series(rng.normal(size=200))
    got = partial_spearman(x, y, z)
    rx, ry, rz = x.rank(), y.rank(), z.rank()
    resid = lambda a: a - np.polyval(np.polyfit(rz, a, 1), rz)  # noqa: E731
    assert got["rho"] == pytest.approx(np.corrcoef(resid(rx), resid(ry))[0, 1])
    assert spearman(x, y)["rho"] > 0.3 > abs(got["rho"])  # the shared cause explains the correlation
    assert partial_spearman(x, x, z)["rho"] == pytest.approx(1.0)


def test_chi_square_and_cramers_v_match_a_hand_computation():
    got = independence(pd.DataFrame([[10, 20], [20, 10]]))
    assert got["chi2"] == pytest.approx(4 * 25 / 15) and got["dof"] == 1
    assert got["cramers_v"] == pytest.approx(1 / 3)
    assert got["p"] == pytest.approx(stats.chi2.sf(20 / 3, 1))
    same = independence(pd.DataFrame([[10, 20, 0], [20, 40, 0], [0, 0, 0]]))  # empty row and column dropped
    assert same["chi2"] == pytest.approx(0) and same["cramers_v"] == pytest.approx(0) and same["dof"] == 1


def test_rates_by_size_band_count_communes_without_initiative(pred, ref, labels):
    data = build_report(pred, labels, ref, Columns.detect(pred.columns))
    rates = data.size.rates
    # Two years (2023, 2024): the rates are per commune and per year, not pooled.
    assert rates.loc["moins de 500"].to_dict() == pytest.approx({
        "communes": 1, "communes_avec_initiative": 1, "part_communes_avec_initiative": 1.0, "initiatives": 1,
        "annees": 2, "initiatives_par_commune": 0.5, "population": 300, "initiatives_pour_1000_hab": 1000 / 300 / 2})
    assert rates.loc["500 à 999", "initiatives"] == 0 and rates.loc["500 à 999", "communes"] == 1  # Delta
    assert rates.loc["100 000 et plus", "initiatives_pour_1000_hab"] == pytest.approx(6 / 150 / 2)
    assert rates.loc["3 500 à 9 999", "communes"] == 0  # Zeta is in a département the input does not cover
    assert data.size.correlation == pytest.approx({"rho": 0.9, "p": stats.spearmanr([1, 2, 3, 4, 5],
                                                   [2, 1, 3, 4, 5]).pvalue, "n": 5})
    table = data.size.crosstab
    assert table.loc["education"].to_dict() == {"moins de 500": 0, "500 à 999": 0, "1 000 à 1 999": 2,
                                                "2 000 à 3 499": 0, "3 500 à 9 999": 0, "10 000 à 49 999": 2,
                                                "50 000 à 99 999": 0, "100 000 et plus": 3}
    assert table.to_numpy().sum() == 14  # commune rows that joined
    assert data.age is None and "pas de données d'âge" in data.age_note


def test_rows_without_a_year_stay_out_of_the_annual_rates(pred, ref, labels):
    # A third file with no year column: its rows would be divided by the two years of the others.
    undated = pd.concat([predictions().iloc[[0]]] * 4, ignore_index=True).assign(exercice="")
    both = prepare_predictions(pd.concat([predictions(), undated], ignore_index=True), labels)
    data = build_report(both, labels, ref, Columns.detect(both.columns))
    alone = build_report(pred, labels, ref, Columns.detect(pred.columns))
    pd.testing.assert_frame_equal(data.size.rates, alone.size.rates)
    pd.testing.assert_frame_equal(data.departement_rates, alone.departement_rates)
    assert {"what": "lignes sans année", "rows": 4,
            "where": "chiffres par année, taux annuels par commune et par département"} in data.left_out
    assert data.overview["rows"] == alone.overview["rows"] + 4  # still counted in the shares
    meta = {"name": "t", "inputs": [{"name": "p.csv", "rows": 22, "sha256": "0" * 64}], "models": [],
            "date": "2026-01-01", "date_fr": "1 janvier 2026", "git_commit": "x", "review_threshold": 0.5}
    doc = compose(data, labels, meta)  # 22 initiatives, not all of 2023 and 2024
    assert doc.summary["subtitle"] == "22 initiatives, exercices 2023 et 2024, 4 sans année"
    assert doc.summary["tiles"][0]["detail"] == "Exercices 2023 et 2024, 4 sans année"


def test_age_questions_with_a_reference_that_has_age_data(pred, ref, labels, tmp_path):
    frame = pd.read_csv(communes_csv(tmp_path / "c.csv"), dtype=str, keep_default_na=False)
    data = build_report(pred, labels, reference_from_csv(frame, "c.csv", ref.former), Columns.detect(pred.columns))
    assert data.age.correlation["rho"] == pytest.approx(-0.8) and data.age.communes == len(AGE)
    assert data.age.partial is not None and len(data.age.rates) == 4
    found = findings(data, labels)
    assert found["age_count"]["verdict"] in ("Contredit", "Non établi")
    assert "ρ de Spearman = -0,800" in found["age_count"]["text"]


def test_findings_are_sentences_with_their_figures(pred, ref, labels):
    data = build_report(pred, labels, ref, Columns.detect(pred.columns))
    found = findings(data, labels)
    assert set(found) == {"size_count", "size_domains"}
    assert "ρ de Spearman = 0,900" in found["size_count"]["text"]
    assert "« Éducation, enfance et jeunesse », premier domaine dans l'ensemble" in found["size_domains"]["text"]
    assert found["size_domains"]["figures"]["n"] == 14
    # "association" is feminine: "association modérée" (V = 0,49 here), never "association modéré".
    v = found["size_domains"]["figures"]["cramers_v"]
    from pipeline.report.verdicts import strength
    assert 0.3 <= v < 0.5 and "association modérée (χ²" in found["size_domains"]["text"]
    assert [strength(e, feminine=True) for e in (0.05, 0.2, 0.6, math.nan)] == [
        "négligeable", "faible", "forte", "indéterminée"]


def test_top_domains_crosstab_and_group_summary(pred, labels):
    table = crosstab(pred, pred["exercice"], labels)
    assert table["2023"].sum() == 12 and table["2024"].sum() == 5
    top = top_domains(table).set_index("groupe")
    assert top.loc["2024", "rang_1"] == "education"
    summary = group_summary(pred, pred["beneficiaire_type"], labels)
    assert list(summary.index)[-1] == "(non renseigné)"
    assert summary.loc["commune", "initiatives"] == 16


def test_amounts_per_domain(pred, labels):
    table, info = amounts_by_domain(pred, Columns.detect(pred.columns), labels)
    assert table.loc["education", "cout_total"] == pytest.approx(4 * 1000 + 3 * 21667)
    assert table.loc["education", "subvention_totale"] == pytest.approx(4 * 250 + 3 * 1000.5)
    assert table.loc["education", "taux_subvention"] == pytest.approx((1000 + 3001.5) / (4000 + 65001))
    assert info["cost_unreadable"] == 0 and info["subsidy_read"] == 17
    # The row without text has no domain: its amounts are not in the totals, and the list of what was left
    # out says so (it named the shares and crosstabs only)
    assert info["rows"] == 17 and {"what": "lignes sans texte (aucun domaine prédit)", "rows": 1, "where":
                                   "parts par domaine, croisements, montants (comptées dans « à revoir »)"} in \
        build_report(pred, labels, None, Columns.detect(pred.columns)).left_out


def test_without_commune_codes_the_commune_sections_say_so(pred, labels):
    frame = pred.drop(columns=["beneficiaire_code_insee"])
    data = build_report(frame, labels, None, Columns.detect(frame.columns))
    assert data.size is None and "pas de colonne de code commune" in data.commune_note
    meta = {"name": "t", "inputs": [{"path": "p", "name": "p", "rows": 18, "sha256": "0" * 64}], "models": [],
            "date": "2026-01-01", "date_fr": "1 janvier 2026", "git_commit": "x", "review_threshold": 0.5}
    doc = compose(data, labels, meta)
    page = to_html(doc)
    assert "pas de colonne de code commune" in page and "pas de colonne de code commune" in to_markdown(doc)


def test_predictions_without_domain_are_refused_naming_the_file(labels):
    with pytest.raises(PipelineError, match=r"in\.csv: no 'domain' column"):
        prepare_predictions(pd.DataFrame({"intitule": ["x"]}), labels, "in.csv")
    text = prepare_predictions(pd.DataFrame({"domain": ["culture", ""], "needs_review": ["False", "True"],
                                             "confidence": ["0.7", "0"]}), labels)
    assert text["needs_review"].tolist() == [False, True] and text["confidence"].tolist() == [0.7, 0.0]


def test_a_digital_flag_predict_never_writes_is_refused_naming_its_row(labels):
    """The digital shares would leave such a row out silently."""
    frame = pd.DataFrame({"domain": ["culture", "sante_social", ""], "digital": ["yes", "peut-etre", ""]})
    with pytest.raises(PipelineError, match=r"in\.csv, row 3: 'peut-etre' in column 'digital' is not yes or no"):
        prepare_predictions(frame, labels, "in.csv")
    assert prepare_predictions(frame.assign(digital=["Oui", "no", ""]), labels)["digital"].tolist() == ["yes", "no", ""]


def test_an_empty_probability_on_a_row_with_a_domain_is_refused_naming_its_row(labels):
    """It stopped the report's share correction on an IndexError; a row without text has its zeros."""
    frame = pd.DataFrame({"domain": ["culture", "", "culture", "sante_social"], "proba_culture": [0.9, 0.0, None, 0.1],
                          "proba_sante_social": [0.1, 0.0, 0.2, 0.9]})
    with pytest.raises(PipelineError, match=r"in\.csv, row 4: no value in column 'proba_culture' of a row with a "
                                            r"domain \(1 such row\(s\)\)"):
        prepare_predictions(frame, labels, "in.csv")
    assert len(prepare_predictions(frame.assign(proba_culture=0.5), labels)) == 4


def test_without_type_column_a_row_is_a_communes_only_if_named_so(ref):
    from pipeline.report.communes import name_key

    assert name_key("CHARRON (17)") == name_key("Charron")
    assert name_key("ALDUDES LES") == name_key("Les Aldudes") and name_key("COM VINCENNES") == "vincennes"
    assert name_key("ST-JEAN-DE-LUZ") == name_key("Saint-Jean-de-Luz")
    # Fonds-vert-like: the code is where the project is, the beneficiary may be a syndicate.
    frame = pd.DataFrame({"code_commune": ["1001", "1001", "1002", "1002", "1002", "99999"],
                          "nom_beneficiaire_principal": ["ALPHA (01)", "SIEA", "COM BETA", "BETA LE VIEUX",
                                                         "DEP AIN", "Nulle-Part"]})
    joined = join_communes(frame, Columns.detect(frame.columns), ref)
    assert joined["entite"].tolist() == ["commune", "autre", "commune", "commune", "departement", "commune"]
    assert joined["jointure"].tolist() == ["current", "not_commune", "current", "current", "not_commune", "unknown"]


def test_one_verdict_rule_reads_effect_sizes_not_p_values():
    from pipeline.report.verdicts import relation_verdict, sameness_verdict, strength

    # The case: rho = 0.164, "significant" on 5,000 communes, is a weak effect, not "Vérifié".
    assert relation_verdict(0.164) == "Nuancé" and strength(0.164) == "faible"
    assert relation_verdict(0.36) == "Vérifié" and relation_verdict(0.05) == "Non vérifié"
    assert relation_verdict(-0.2) == "Contredit" and relation_verdict(math.nan) == "Non établi"
    assert relation_verdict(-0.4, claimed_sign=-1) == "Vérifié"
    # Domains: V below 0.1 with one domain moving 16 points (education by age quartile) is "Nuancé".
    assert sameness_verdict(0.094, 0.158) == "Nuancé"
    assert sameness_verdict(0.05, 0.04) == "Vérifié" and sameness_verdict(0.11, 0.05) == "Contredit"


def test_newcombe_interval_of_a_difference_of_shares():
    from pipeline.report.trends import newcombe, wilson

    low, high = wilson(81, 263)  # Newcombe (1998), table I: 81/263 -> 0.2553 to 0.3662
    assert (low, high) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert (low, high) == pytest.approx(tuple(stats.binomtest(81, 263).proportion_ci(method="wilson")))
    d, lo, hi = newcombe(48, 80, 56, 70)  # his table II, example (a), method 10: 0.0524 to 0.3339
    assert (d, lo, hi) == pytest.approx((0.2, 0.0524, 0.3339), abs=1e-4)


def test_year_changes_and_digital_share_by_year(pred, ref, labels):
    data = build_report(pred, labels, ref, Columns.detect(pred.columns))
    assert data.year_list == ["2023", "2024"] and data.years_count == 2
    ch = data.year_changes
    # education: 5 of 12 rows with a domain in 2023, 2 of 5 in 2024
    assert ch.loc["education", "part_2023"] == pytest.approx(5 / 12)
    assert ch.loc["education", "evolution_points"] == pytest.approx(100 * (2 / 5 - 5 / 12))
    assert ch.loc["education", "ci_low"] < ch.loc["education", "evolution_points"] < ch.loc["education", "ci_high"]
    assert data.digital_by_year.loc["2024", "part_numeriques"] == pytest.approx(1 / 5)  # Gamma's securite
    # 2023 holds the row without text (no flag): counted among the year's initiatives, as in the table by year,
    # but not in the share's denominator
    assert data.digital_by_year["initiatives"].to_dict() == data.years["initiatives"].to_dict() == {
        "2023": 13, "2024": 5}
    assert data.digital_by_year.loc["2023", "part_numeriques"] == pytest.approx(2 / 12)


def test_domain_gaps_name_the_domain_that_drives_a_difference():
    from pipeline.report.aggregates import domain_gaps, share_within

    table = pd.DataFrame({"Q1": [32, 68], "Q4": [16, 84], "petit": [1, 0]}, index=["education", "urbanisme"])
    gaps = domain_gaps(table, min_group=30)  # "petit" has 1 initiative: left out
    assert gaps.index[0] in ("education", "urbanisme") and gaps["ecart"].iloc[0] == pytest.approx(0.16)
    assert set(gaps["groupe_max"]) <= {"Q1", "Q4"}
    frame = pd.DataFrame({"domain": ["education"] * 3 + ["urbanisme"] * 3})
    within = share_within(frame, "education", pd.Series(["a", "b", "a", "b", "a", "b"]),
                          pd.Series(["x"] * 6), ["a", "b"], ["x"], min_group=1)
    assert within.loc["x", "a"] == pytest.approx(2 / 3) and within.loc["x", "b"] == pytest.approx(1 / 3)


def test_the_methods_name_every_column_read_the_funding_scheme_too(pred, ref, labels):
    """The scheme column feeds the confounder paragraph: the methods list it with the others, French-spaced."""
    from pipeline.report.compose import methods_section

    data = build_report(pred.assign(dispositif="DETR"), labels, ref, Columns.detect([*pred.columns, "dispositif"]))
    meta = {"inputs": [{"name": "p.csv", "rows": 18, "sha256": "0" * 64}], "models": [], "date_fr": "1 janvier 2026",
            "git_commit": "x"}
    text = " ".join(b for b in methods_section(data, labels, meta).blocks if isinstance(b, str))
    assert ("Colonnes utilisées : code commune : beneficiaire_code_insee ; type de bénéficiaire : "
            "beneficiaire_type ;") in text and "; subvention : subvention ; dispositif : dispositif." in text


def test_the_page_escapes_what_it_is_given_and_the_markdown_comes_from_the_same_document(pred, ref, labels):
    data = build_report(pred, labels, ref, Columns.detect(pred.columns))
    meta = {"name": "t", "inputs": [{"name": "p.csv", "rows": 18, "sha256": "0" * 64}], "models": [],
            "date": "2026-01-01", "date_fr": "1 janvier 2026", "git_commit": "x", "review_threshold": 0.5,
            "title": "Baromètre <script>alert(1)</script>", "source": "DGCL & co"}
    doc = compose(data, labels, meta)
    page, markdown = as_read(to_html(doc)), as_read(to_markdown(doc))  # French no-break spaces as spaces
    assert "<script>" not in page and "Baromètre &lt;script&gt;" in page and "Source : DGCL &amp; co" in page
    # CommonMark passes HTML through: the Markdown escapes it (shown as typed, never run).
    assert markdown.startswith("# Baromètre \\<script\\>alert(1)\\</script\\>")
    assert page.count('class="source"') == len(doc.charts) + len(doc.tables)
    assert markdown.count("Source : DGCL \\& co") == len(doc.charts) + len(doc.tables)
    for f in doc.findings.values():
        assert f["verdict"] in page and f["verdict"] in markdown and f["plain"]
    assert 4 <= len(doc.tiles) <= 6 and doc.tiles[0].value == "18"
    # The annexes come after the body, in the page as in the Markdown.
    assert page.index("Annexe 1 — Qualité des données") > page.index("Méthodes et sources</h2>")
    assert markdown.index("## Annexe 1 — Qualité des données") > markdown.index("## Méthodes et sources")


def test_svg_paths_become_matplotlib_paths_and_the_map_is_drawn(tmp_path):
    from matplotlib.path import Path as MplPath
    from report_fixtures import write_map

    from pipeline.report.maps import OVERSEAS, departement_map, load_contours, svg_path

    # Relative moveto, implicit linetos, and a second subpath starting from the first one's start.
    path = svg_path("m 10,10 5,0 0,5 z m 1,1 2,0 z")
    assert path.vertices.tolist() == [[10, 10], [15, 10], [15, 15], [10, 10], [11, 11], [13, 11], [11, 11]]
    assert path.codes.tolist() == [MplPath.MOVETO, MplPath.LINETO, MplPath.LINETO, MplPath.CLOSEPOLY,
                                   MplPath.MOVETO, MplPath.LINETO, MplPath.CLOSEPOLY]
    assert svg_path("M 40,10 L 60,10 60,30 Z").vertices.tolist() == [[40, 10], [60, 10], [60, 30], [40, 10]]
    contours = load_contours(write_map(tmp_path))
    assert set(contours) == {"01", "02"}
    png = departement_map(contours, pd.Series({"01": 1.5, "02": 0.5, "971": 2.0}), "t", "l", dpi=50)
    assert png.startswith(b"\x89PNG") and "971" in OVERSEAS
    (tmp_path / "svg-maps-france-departments" / "index.js").write_text("nonsense")
    with pytest.raises(PipelineError, match="unreadable index.js"):
        load_contours(tmp_path / "svg-maps-france-departments")


def test_intervals_are_shown_when_the_domain_table_has_them(pred, ref, labels):
    """Issue 11 will add ci_low/ci_high to the domain table: the tile and the table show them as they come."""
    data = build_report(pred, labels, ref, Columns.detect(pred.columns))
    data.domains["ci_low"] = data.domains["part"] * 0.8
    data.domains["ci_high"] = data.domains["part"] * 1.2
    meta = {"name": "t", "inputs": [{"name": "p.csv", "rows": 18, "sha256": "0" * 64}], "models": [],
            "date": "2026-01-01", "date_fr": "1 janvier 2026", "git_commit": "x", "review_threshold": 0.5}
    doc = compose(data, labels, meta)
    first = next(t for t in doc.tiles if "premier domaine" in t.label)
    assert first.interval == "IC 95 % : 32,9\u00a0% à 49,4\u00a0%"  # education, 7/17 = 41.2 %
    page = to_html(doc)
    assert as_read(first.interval) in as_read(page) and "IC 95 % bas" in as_read(page)
    assert "IC 95 % bas" in next(t for t in doc.tables if t.name == "domaines").shown.columns


def test_a_change_that_rounds_to_nothing_is_written_without_a_sign():
    """-0.04 points shown to one decimal was "-0,0" (an interval's end, a change by year), and +0.04 "+0,0"."""
    from pipeline.report.frformat import NBSP, fr_num, fr_pct, fr_signed

    assert fr_num(-0.04, 1) == "0,0" and fr_pct(-0.0004) == f"0,0{NBSP}%" and fr_num(-0.0, 2) == "0,00"
    assert fr_signed(-0.04) == fr_signed(0.04) == fr_signed(0.0) == "0,0"
    assert fr_signed(0.05001) == "+0,1" and fr_signed(-1234.56) == f"-1{NBSP}234,6" and fr_signed(None) == "–"
    assert fr_num(2.675, 2) == f"{2.675:.2f}".replace(".", ",")  # rounded as before, the float's own way


def test_small_rates_keep_two_significant_digits_in_tables_and_sentences():
    """A file of a few hundred rows gives 0.00043 initiatives per 1,000 inhabitants in a size band with
    3 initiatives: the table showed "0,00", as for a band with none; the sentence said "0,000"."""
    from pipeline.report.frformat import decimals_of_step, fr_rate
    from pipeline.report.sections_communes import rates_table

    rates = pd.DataFrame({"communes": [17536, 37, 5], "communes_avec_initiative": [100, 2, 0],
                          "part_communes_avec_initiative": [0.0057, 0.054, 0.0], "initiatives": [113, 3, 0],
                          "annees": [1, 1, 1], "initiatives_par_commune": [0.0064, 0.081, 0.0],
                          "population": [3913724, 6964531, 300],
                          "initiatives_pour_1000_hab": [0.02887, 0.000431, 0.0]},
                         index=pd.Index(["moins de 500", "100 000 et plus", "vide"], name="groupe"))
    shown = rates_table("taille", "t", rates, "Tranche").shown
    assert shown["Pour 1 000 habitants"].tolist() == ["0,029", "0,00043", "0,00"]
    assert shown["Par commune"].tolist() == ["0,0064", "0,081", "0,00"]
    assert [fr_rate(v) for v in (0.00999, 0.0951, 1.2857, math.nan)] == ["0,010", "0,095", "1,29", "–"]
    assert [decimals_of_step(s) for s in (0.25, 0.005, 2.0, 0.0001)] == [2, 3, 0, 4]


def test_age_quartiles_are_labelled_with_a_no_break_space_before_the_percent_sign():
    """The age quartiles' labels ("Q4 : 12,3 à 29,3 %") had a plain space, unlike every other percentage:
    in a narrow table cell the % went to the next line alone."""
    from pipeline.report.aggregates import age_groups
    from pipeline.report.frformat import NBSP

    groups, labels = age_groups(pd.Series([1.2, 4.0, 7.4, 9.0, 12.3, 20.0, 29.3, 15.0]))
    assert len(labels) == 4 and all(label.endswith(f"{NBSP}%") and " %" not in label for label in labels)
    assert set(groups.dropna()) == set(labels)


def test_no_digital_row_is_not_blamed_on_a_missing_column_when_the_flag_says_no(pred, ref, labels):
    """A file whose flag says "no" to every row (a small one, say) was told its digital column was
    "absente ou vide"."""
    from pipeline.report.sections import digital_section

    data = build_report(pred.assign(digital="no"), labels, ref, Columns.detect(pred.columns))
    text = digital_section(data, labels).blocks[0]
    assert "absente" not in text and f"Aucune des {data.overview['digital_known']} initiatives" in text
    from pipeline.report.compose import tiles
    assert [t for t in tiles(data) if t.label == "passent par le numérique"][0].detail == "0 initiative"
    data = build_report(pred.assign(digital=""), labels, ref, Columns.detect(pred.columns))
    assert "colonne digital absente ou vide" in digital_section(data, labels).blocks[0]


def test_a_count_under_two_takes_the_singular():
    """"0 initiatives" on the digital tile of a list with no digital project: French says 0 and 1 initiative."""
    from pipeline.report.frformat import NBSP, fr_count, fr_noun

    assert [fr_count(n, "initiative") for n in (0, 1, 2, 1000)] == [
        "0 initiative", "1 initiative", "2 initiatives", f"1{NBSP}000 initiatives"]
    assert fr_noun(1, "portée") == "portée" and fr_noun(3, "portée") == "portées"
    # a mean takes the noun of the number written ("1,46 initiative", "5,56 initiatives"), a count that of
    # the whole number shown
    assert [fr_noun(x, "initiative") for x in (1.46, 1.99, 2.0, 5.56)] == [
        "initiative", "initiative", "initiatives", "initiatives"]
    assert fr_count(1.6, "initiative") == "2 initiatives"
