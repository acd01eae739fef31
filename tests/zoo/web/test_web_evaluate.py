"""``/evaluate``: the generalization matrix on the web, fitted on demand and kept while the catalog's rows stay
the same; its JSON twin is ``zoo evaluate --json`` and its heatmap is ``zoo evaluate --png`` (SQLite and PostgreSQL)."""

from __future__ import annotations

import html
import io
import json
from dataclasses import asdict
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from clirunner import run_zoo
from zoo.db.models import Checkpoint, MetricValue, MetricVector

SMALL = {"trees": "5", "repeats": "1"}  # small forests: the tests check plumbing, not scores


def _cli(*args: str) -> Any:
    return json.loads(run_zoo("evaluate", *args, "--trees", "5", "--repeats", "1", "--json").stdout)


def _same(web: Any, cli: Any, key: str = "") -> bool:
    """Equal records, R² to 1e-9. Not Spearman ρ: the forests predict on every core (n_jobs=-1 in
    zoo.metamodel.fitting) and sum their trees in the order the threads finish, so two runs of zoo evaluate
    itself differ in the last bits, and ρ over near-tied predictions ranks such a tie either way (0.447 or
    0.707 on this small catalog). Where ρ is a number on one side it is one on the other."""
    if isinstance(web, dict) and isinstance(cli, dict):
        return web.keys() == cli.keys() and all(_same(web[k], cli[k], k) for k in web)
    if isinstance(web, list) and isinstance(cli, list):
        return len(web) == len(cli) and all(_same(a, b, key) for a, b in zip(web, cli))
    if isinstance(web, float) and isinstance(cli, float):
        return key == "spearman" or web == pytest.approx(cli, rel=1e-9, abs=1e-12)
    return type(web) is type(cli) and web == cli


def test_the_form_alone_fits_nothing(client) -> None:
    fitted = client.app.state.web.matrices.fitted
    page = client.get("/evaluate")
    assert page.status_code == 200 and 'id="evaluate-form"' in page.text and 'id="matrix"' not in page.text
    assert "<option selected>sharpness</option>" in page.text and 'value="30"' in page.text  # zoo evaluate's defaults
    assert client.app.state.web.matrices.fitted == fitted


@pytest.mark.parametrize(
    ("params", "args"),
    [
        ({"target": "sharpness"}, ["--target", "sharpness"]),
        (
            {"target": "noisiness", "q": "arch=resnet*", "raw_target": "1", "folds": "3", "seed": "2"},
            ["--target", "noisiness", "--arch", "resnet*", "--raw-target", "--folds", "3", "--seed", "2"],
        ),
    ],
)
def test_the_json_twin_is_what_zoo_evaluate_prints(
    client, web, catalog, zoo_env, params: dict[str, str], args: list[str]
) -> None:
    from zoo.web.matrices import settings_from

    answer = client.get("/evaluate", params={**params, **SMALL, "format": "json"})
    assert answer.status_code == 200
    kept = client.app.state.web.matrices.get(catalog, settings_from({**params, **SMALL}))
    assert kept.cached and answer.json() == json.loads(json.dumps(asdict(kept.matrix)))  # exactly the library's record
    cli = _cli(*args)
    assert _same(answer.json(), cli), (answer.json(), cli)
    assert answer.json()["cells"] and answer.json()["n_estimators"] == 5


def test_the_page_shows_every_cell_and_the_heatmap_is_zoo_evaluates_png(
    client, web, catalog, zoo_env, tmp_path
) -> None:
    params = {"target": "sharpness", **SMALL}
    page = client.get("/evaluate", params=params)
    matrix = client.get("/evaluate", params={**params, "format": "json"}).json()
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert f"{matrix['n_checkpoints']} checkpoints" in text
    assert text.count("<tr><td>") == len(matrix["cells"])
    for axis in matrix["axes"]:
        assert f'<th colspan="8">{axis} ' in text
    assert (
        "zoo evaluate --target sharpness --feature-set paper-v1 --trees 5 --repeats 1 --folds 5 --seed 0 --json" in text
    )
    png = client.get("/evaluate/matrix.png", params=params)
    assert png.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(png.content)) as image:
        assert image.size[0] > 400
    from zoo.plots import write_matrix_figure
    from zoo.web.matrices import settings_from

    kept = client.app.state.web.matrices.get(catalog, settings_from(params))  # the matrix the page showed
    assert kept.cached and json.loads(json.dumps(asdict(kept.matrix))) == matrix
    assert (
        png.content == write_matrix_figure(kept.matrix, tmp_path / "cli.png").read_bytes()
    )  # zoo evaluate --png's code
    run_zoo("evaluate", "--target", "sharpness", "--trees", "5", "--repeats", "1", "--png", str(tmp_path / "cli.png"))
    with Image.open(tmp_path / "cli.png") as image, Image.open(io.BytesIO(png.content)) as served:
        assert image.size == served.size
    assert 'src="/evaluate/matrix.png?target=sharpness&amp;feature_set=paper-v1' in page.text


def test_a_matrix_is_kept_until_the_rows_it_is_fitted_from_change(catalog, web) -> None:
    from starlette.testclient import TestClient

    from zoo.web.app import create_app

    params = {"target": "sharpness", "feature_set": "paper-v1", **SMALL}
    with TestClient(create_app(catalog), raise_server_exceptions=False) as served:
        cache = served.app.state.web.matrices
        first = served.get("/evaluate", params=params)
        assert cache.fitted == 1 and "Fitted for this request" in first.text
        again = served.get("/evaluate", params=params)
        assert served.get("/evaluate/matrix.png", params=params).status_code == 200
        assert cache.fitted == 1 and "Kept from an earlier request" in again.text
        assert (
            served.get("/evaluate", params={**params, "seed": "1"}).status_code == 200 and cache.fitted == 2
        )  # other settings

        with catalog.session(write=True) as session:  # a metric of a selected checkpoint is measured anew
            row = session.scalars(
                select(MetricValue)
                .join(MetricVector, MetricVector.id == MetricValue.vector_id)
                .join(Checkpoint, Checkpoint.id == MetricVector.checkpoint_id)
                .where(Checkpoint.epoch >= 1, MetricVector.feature_set == "paper")
                .order_by(MetricValue.vector_id, MetricValue.metric)
            ).first()
            key, old = (row.vector_id, row.metric), row.value
            row.value = old * 3 + 1
        try:
            changed = served.get("/evaluate", params=params)
            assert cache.fitted == 3 and "Fitted for this request" in changed.text
        finally:
            with catalog.session(write=True) as session:
                session.get(MetricValue, key).value = old
        served.get("/evaluate", params=params)
        assert cache.fitted == 3  # the rows are as they were: the first matrix again


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("target=mood", 400, "mood"),
        ("target=sharpness&trees=0", 400, "trees must be between 1 and 200"),
        ("target=sharpness&repeats=99", 400, "repeats must be between 1 and 10"),
        ("target=sharpness&folds=1", 400, "folds must be between 2 and 20"),
        ("target=sharpness&raw_target=maybe", 400, "raw_target must be 1 or 0"),
        ("target=sharpness&feature_set=nope", 400, "nope"),
        ("target=sharpness&q=colour%3Dred", 400, "colour"),
        ("target=sharpness&q=arch%3Dnone_such&trees=5&repeats=1", 400, "usable checkpoints"),
    ],
)
def test_bad_settings_keep_the_form_and_give_the_clis_message(client, query: str, status: int, message: str) -> None:
    page = client.get(f"/evaluate?{query}")
    assert page.status_code == status and message in html.unescape(page.text) and 'id="evaluate-form"' in page.text
    assert 'id="error-message"' in page.text and "Traceback" not in page.text
    as_json = client.get(f"/evaluate?{query}&format=json")
    assert as_json.status_code == status and message in as_json.json()["error"]
    assert client.get(f"/evaluate/matrix.png?{query}").status_code == status


def test_library_errors_name_the_query_parameters() -> None:
    """A library error reaches the page with its parameters as the query string spells them (the CLI writes
    the flags): trees for n_estimators, raw_target=1 for log_target=False, timeout for timeout_s."""
    from zoo.errors import InvalidInput
    from zoo.metamodel.fitting import check_forest_settings
    from zoo.web.app import shown

    with pytest.raises(InvalidInput) as refused:
        check_forest_settings(0, 1)
    assert shown(refused.value) == "trees must be at least 1, got 0"
    hint = InvalidInput("3 checkpoints have sharpness <= 0 (use `log_target=False`)", mentions=("log_target",))
    assert shown(hint) == "3 checkpoints have sharpness <= 0 (use raw_target=1)"
    assert shown(InvalidInput("raise `timeout_s`", param="timeout_s")) == "raise timeout"


def test_json_and_png_need_a_target(client) -> None:
    assert "target is required" in client.get("/evaluate?format=json").json()["error"]
    assert client.get("/evaluate/matrix.png").status_code == 400
    assert client.get("/evaluate?target=sharpness&format=csv").status_code == 400


def test_the_fits_pages_link_to_the_matrix(client, web) -> None:
    assert 'href="/evaluate?target=sharpness"' in client.get("/fits").text
    fit_page = client.get(f"/fits/{web.fit_id}").text
    # the web fit is on the raw target: so is the matrix it links to
    assert 'id="matrix-link" href="/evaluate?target=sharpness&amp;feature_set=paper-v1&amp;raw_target=1"' in fit_page
    assert 'href="/evaluate"' in client.get("/").text  # and the navigation


def test_evaluating_writes_nothing(client, web, catalog, row_counts) -> None:
    before = row_counts(catalog)
    assert client.get("/evaluate", params={"target": "noisiness", **SMALL}).status_code == 200
    assert client.get("/evaluate/matrix.png", params={"target": "noisiness", **SMALL}).status_code == 200
    assert row_counts(catalog) == before
