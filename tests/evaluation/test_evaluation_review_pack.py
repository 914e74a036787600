"""The review pack: what a reader who does not code sees (words, rounded numbers, identity on
every page), the gate verdict in both shapes, the model card document, ``aanwas report`` per
registered version, and (slow) the page in headless Chromium."""

from __future__ import annotations

import re
import warnings
from html.parser import HTMLParser
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from aanwas.cli import app
from aanwas.stages.evaluate import log_evaluation
from evaluation.config import BootstrapConfig, EvaluationConfig, ShapConfig
from evaluation.evaluate import evaluate_model
from evaluation.modelcard import ModelInfo, render_model_card_markdown
from evaluation.review_pack import (
    PackIdentity,
    build_verdicts,
    gate_view,
    group_text,
    render_review_pack,
    visible_text_problems,
)
from training.config import MlflowConfig
from training.tracking import configure_tracking, sqlite_uri

IDENT = PackIdentity(
    name="aanwas-13-19",
    version="4",
    band="13-19",
    run_id="0123456789abcdef0123456789abcdef",
    fingerprint="9115c13ef0bd49cda41aa8a882fc598f922a8cc1cb5b1cab98107c9673ace58c",
    decision={"decision": "override-promoted", "reason": "reviewer override", "override_reason": "pilot in two areas"},
)
NEW_GATE = {
    "passed": False,
    "reasons": ["fairness: calibration of income_group=1 is 1.6 (1.3\u20131.9)"],
    "notes": ["label-bias sensitivity not evaluated (no alternative label)"],
    "checks": [
        {
            "gate": "fairness",
            "attribute": "income_group",
            "group": "1",
            "metric": "calibration",
            "estimate": 1.6234567,
            "lo": 1.3123,
            "hi": 1.9456,
            "threshold": "0.8\u20131.25",
            "p_adjusted": 0.0012,
            "outcome": "fail",
            "explanation": "observed outcomes exceed the expected ones",
        },
        {
            "gate": "proxy",
            "attribute": None,
            "group": None,
            "metric": "r2",
            "estimate": 0.12,
            "lo": 0.07,
            "hi": 0.2,
            "threshold": "lower bound at most 0.5",
            "p_adjusted": None,
            "outcome": "pass",
            "explanation": "origin explains little",
        },
    ],
    "next_step": "Recalibrate per income group and retrain.",
    "override": {"reason": "pilot in two areas, reviewed by the ethics board", "by": "J. de Vries"},
}


@pytest.fixture(scope="module")
def evaluated(make_world):
    persons, truth = make_world(5, n_gemeenten=4, wijken_per_gemeente=5, persons_per_wijk=400, n_over_policed=4)
    persons = persons.assign(rinpersoon=np.arange(len(persons)), baseline=np.clip(0.05 + 0.1 * persons["ind_x2"], 0, 1))
    feats = ["ind_x1", "ind_x2"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = lgb.LGBMClassifier(n_estimators=20, verbose=-1, n_jobs=1).fit(persons[feats], persons["label"])
    cfg = EvaluationConfig(bootstrap=BootstrapConfig(reps=25), shap=ShapConfig(max_rows=2000))
    info = ModelInfo(version="4", run_id=IDENT.run_id, bands=("13-19",), threshold={"13-19": 0.1})
    res = evaluate_model(
        persons,
        cfg=cfg,
        threshold={"13-19": 0.1},
        baselines=["baseline"],
        features={"13-19": feats},
        models={"13-19": model},
        alternative="alt",
        truth_areas=truth,
        model_info=info,
        registrations=persons.assign(registered=persons["label"].astype(float), ref_date=pd.Timestamp("2020-01-01")),
    )
    return res, cfg


class _Text(HTMLParser):
    """Visible text of a page, per ``<section class="page">`` (alt texts count as visible)."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[list[str]] = []
        self.all: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        a = dict(attrs)
        if tag in ("style", "script", "title"):
            self._skip += 1
        if tag == "section" and "page" in (a.get("class") or ""):
            self.sections.append([])
        if a.get("alt"):
            self._add(a["alt"])

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag in ("style", "script", "title"):
            self._skip -= 1

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if not self._skip:
            self._add(data)

    def _add(self, text: str) -> None:
        self.all.append(text)
        if self.sections:
            self.sections[-1].append(text)


def _parse(html: str) -> _Text:
    t = _Text()
    t.feed(html)
    return t


def test_pack_text_is_for_readers_and_names_the_version_on_every_page(evaluated):
    res, _ = evaluated
    html = render_review_pack(res, IDENT)
    text = _parse(html)
    visible = " ".join(text.all)
    assert visible_text_problems(visible) == []
    assert len(text.sections) >= 6
    for section in text.sections:
        s = " ".join(section)
        assert IDENT.name in s and f"version {IDENT.version}" in s and IDENT.run_id in s and IDENT.fingerprint[:12] in s
    # and on every printed page: the @page margin boxes carry the same identity
    page_rule = html[html.index("@page") : html.index("@media print")]
    assert IDENT.name in page_rule and IDENT.run_id in page_rule and IDENT.fingerprint[:12] in page_rule
    assert "size:A4" in page_rule and "counter(page)" in page_rule and "break-before:page" in html
    # self-contained: no scripts, nothing loaded from elsewhere
    assert "<script" not in html.lower() and "http://" not in html and "https://" not in html
    assert "Content-Security-Policy" in html
    # the first page: every audit in both languages, with its four questions
    first = " ".join(text.sections[0])
    for v in build_verdicts(res, "13-19", IDENT):
        assert v.title[0] in first and v.title[1] in first and v.found[1] in first
    for word in ("Getoetst", "Gevonden", "Hoe zeker", "Betekenis", "Tested", "Found", "How sure", "What it means"):
        assert word in first
    # codes are words: no "income_group=1" or "fnr |" anywhere
    assert "income_group" not in visible and "fnr" not in visible and "buiten_europa" not in visible


def test_first_page_is_short_enough_to_read_in_minutes(evaluated):
    res, _ = evaluated
    first = " ".join(_parse(render_review_pack(res, IDENT)).sections[0])
    # both languages together; at ~200 words a minute one language reads in under five minutes
    assert len(first.split()) < 2000, len(first.split())


def test_gate_in_the_new_shape_shows_failing_groups_next_step_and_override(evaluated):
    res, _ = evaluated
    summary = {**res.summary, "gate": NEW_GATE}
    html = render_review_pack(type(res)(summary, res.tables, res.figures, res.model_card), IDENT)
    first = " ".join(_parse(html).sections[0])
    assert "niet gehaald / failed" in first
    # half-width 0.32 (mantissa 3.2 < 3.55): two digits, to 0.01; bounds rounded outward
    assert "income group 1 (lowest 20%)" in first and "1.62 (1.31\u20131.95)" in first
    assert "Recalibrate per income group and retrain." in first
    assert "pilot in two areas, reviewed by the ethics board" in first and "J. de Vries" in first
    assert visible_text_problems(first) == []


def test_gate_view_tolerates_the_shape_of_today():
    old = gate_view({"passed": True, "reasons": [], "notes": ["proxy test not evaluated"]}, {})
    assert old.passed is True and old.rows == [] and old.override is None and "passed" in old.next_step[1]
    failed = gate_view(
        {"passed": False, "reasons": ["fairness: fnr of income_group=1 is 1.4"]}, {"override_reason": "x"}
    )
    assert failed.passed is False and failed.override == ("x", "")
    assert "income group 1 (lowest 20%)" in failed.reasons[0] and "income_group" not in failed.reasons[0]
    assert gate_view(None, {}).passed is None


def test_group_words():
    assert group_text("sex \u00d7 income_group", "V \u00d7 1") == "girls \u00d7 income group 1 (lowest 20%)"
    assert group_text("income_group", 2.0) == "income group 2"
    assert group_text("region", "noord_oost") == "region noord oost"


def test_model_card_is_a_document_in_the_register_fields(evaluated):
    res, _ = evaluated
    verdicts = build_verdicts(res, "13-19", IDENT)
    md = render_model_card_markdown(res.model_card, ident=IDENT, verdicts=verdicts, settings=res.summary["settings"])
    assert md.startswith("# Model card: aanwas-13-19 version 4")
    assert visible_text_problems(md) == []
    for field in (
        "Naam",
        "Organisatie",
        "Doel en impact",
        "Afwegingen",
        "Menselijke tussenkomst",
        "Risicobeheer",
        "Wettelijke basis",
        "Impacttoetsen",
        "Gegevens",
        "Technische werking",
    ):
        assert f"**{field}" in md, field
    assert "to be filled in by the organisation" in md  # the legal basis is the organisation's
    for part in ("Deel 1", "Deel 2", "Deel 3", "Deel 4"):
        assert part in md
    assert "None" not in md and "{" not in md


def _store(tmp_path, res, cfg, *, tags):
    uri = sqlite_uri(tmp_path / "mlflow" / "mlflow.db")
    experiment = configure_tracking(uri, MlflowConfig(experiment="pack-test"))
    try:
        with mlflow.start_run(experiment_id=experiment) as run:
            log_evaluation(res, cfg, band="13-19")
            mlflow.set_tags(tags)
        run_id = run.info.run_id
    finally:
        mlflow.set_tracking_uri(None)
    return uri, run_id


def test_cli_report_writes_one_pack_per_registered_version(evaluated, tmp_path):
    res, cfg = evaluated
    tags = {
        "13-19.aanwas.registered_version": "4",
        "13-19.aanwas.decision": "rejected",
        "13-19.aanwas.decision_reason": "challenger AUC below the champion's",
        "data.table_sha256": IDENT.fingerprint,
    }
    uri, run_id = _store(tmp_path, res, cfg, tags=tags)
    out = tmp_path / "packs"
    result = CliRunner().invoke(app, ["report", "--run-id", run_id, "--out", str(out), "--mlflow-uri", uri])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "aanwas-13-19-v4").iterdir()) == ["model_card.md", "review_pack.html"]
    html = (out / "aanwas-13-19-v4" / "review_pack.html").read_text()
    assert "aanwas-13-19 version 4" in html and run_id in html and IDENT.fingerprint[:12] in html
    assert "unregistered" not in html and "challenger AUC below the champion" in html
    # --model/--version resolves the run from the registry
    client = mlflow.MlflowClient(tracking_uri=uri)
    client.create_registered_model("aanwas-13-19")
    mv = client.create_model_version("aanwas-13-19", f"runs:/{run_id}/none", run_id=run_id)
    out2 = tmp_path / "one"
    args = ["report", "--model", "aanwas-13-19", "--version", str(mv.version), "--out", str(out2), "--mlflow-uri", uri]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (out2 / f"aanwas-13-19-v{mv.version}" / "review_pack.html").exists()
    # an unknown version: one line, exit 2, nothing written
    bad = tmp_path / "bad"
    args = ["report", "--model", "aanwas-13-19", "--version", "99", "--out", str(bad), "--mlflow-uri", uri]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "not found" in result.output and not bad.exists()


def test_report_help_names_the_layout():
    result = CliRunner().invoke(app, ["report", "--help"])
    text = re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", result.output))
    assert "review_pack.html" in text and "--model" in text and "--version" in text


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium")
def test_pack_renders_in_headless_chromium_on_screen_and_in_print(evaluated, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    res, _ = evaluated
    summary = {**res.summary, "gate": NEW_GATE}
    page_file = tmp_path / "review_pack.html"
    page_file.write_text(
        render_review_pack(type(res)(summary, res.tables, res.figures, res.model_card), IDENT), encoding="utf-8"
    )
    messages: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        page.on("console", lambda m: messages.append(m.text))
        page.on("pageerror", lambda e: messages.append(str(e)))
        page.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else messages.append(r.url))
        page.goto(page_file.as_uri())
        shot = tmp_path / "pack.png"
        page.screenshot(path=str(shot), full_page=True)
        pdf = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        browser.close()
    assert messages == []  # no console errors, no CSP violations, no request leaving the file
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one
    assert width <= 1100  # nothing wider than the window
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") >= 5


def test_fairness_with_every_group_too_few_is_not_judged_not_passed(make_world):
    """A tiny scored frame: every group is below the minimum cell size, so nothing about groups
    can be said, and the first page must not say "passes" or "Gate: passed"."""
    persons, _ = make_world(3, n_gemeenten=2, wijken_per_gemeente=2, persons_per_wijk=100, n_over_policed=0)
    cfg = EvaluationConfig(bootstrap=BootstrapConfig(reps=20), min_cell_size=100)  # 400 persons, about 20 registered
    res = evaluate_model(persons, cfg=cfg, threshold={"13-19": 0.1})
    metrics = res.tables["fairness_metrics/13-19"]
    gated = metrics[metrics["metric"] == "calibration"]
    assert len(gated) and (gated["status"] != "ok").all()  # the premise: every gated group too few
    fairness = next(v for v in build_verdicts(res, "13-19", IDENT) if v.key == "fairness")
    assert fairness.status == "too_few"
    assert fairness.status_text == ("niet beoordeeld: te weinig gegevens", "not judged: too few")
    assert "passed" not in fairness.means[1] and "gehaald" not in fairness.means[0]
    assert f"{len(gated)} groups" in fairness.found[1]
