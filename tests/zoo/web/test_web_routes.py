"""HTTP-level tests of every route of ``zoo serve`` (Starlette's TestClient, SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import html
import io
import json
import subprocess
import sys

import pytest
from PIL import Image

from clirunner import run_zoo


def _png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.size


def test_every_page_answers_html_with_links_to_its_records(client, web) -> None:
    PIXEL_DATASET = web.pixel_dataset
    checkpoint = web.checkpoint_ids[0]
    pages = {
        "/": "Catalog",
        "/datasets": PIXEL_DATASET,
        f"/datasets/{PIXEL_DATASET}": "Preview",
        "/runs": "runs",
        f"/runs/{web.done_run}": "Checkpoints (2)",
        "/checkpoints": "checkpoints in",
        f"/checkpoints/{checkpoint}": "filters",
        "/fits": f'href="/fits/{web.fit_id}"',
        f"/fits/{web.fit_id}": "Feature importances",
        "/sql": "read-only",
        "/queue": "stale claims",
    }
    for path, expected in pages.items():
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert expected in response.text, path
    assert f'href="/checkpoints/{checkpoint}"' in client.get("/checkpoints").text


def test_overview_counts_runs_by_status_and_finds_the_stale_claim(client, web) -> None:
    data = client.get("/?format=json").json()
    assert data["runs"] == {"queued": 0, "running": 1, "done": 6, "failed": 1}
    assert data["checkpoints"] == len(web.checkpoint_ids)
    assert data["checkpoints_by_source"] == {"run": 16, "file": 1}
    assert data["fits"] == 1 and data["datasets"] == 4 and data["variants"] == 4 + 4
    queue = data["queue"]
    assert queue["stale_claims"] == 1 and queue["finished_recently"] == 3 and queue["images_per_second"] == 100.0
    assert client.get("/queue?format=json").json()["running"] == 1


def test_json_twins_are_the_records_the_cli_prints(client, web, zoo_env) -> None:
    def cli(*args: str) -> object:
        return json.loads(run_zoo(*args, "--json").stdout)

    checkpoint = web.checkpoint_ids[3]
    assert client.get("/runs?format=json&per_page=1000").json() == cli("runs")
    assert client.get("/checkpoints?format=json&q=arch%3Dresnet18&per_page=1000").json() == cli(
        "query", "arch=resnet18", "--limit", "0"
    )
    assert client.get(f"/checkpoints/{checkpoint}?format=json").json() == cli("show", str(checkpoint))
    assert client.get("/fits?format=json").json() == cli("fits")
    assert client.get("/datasets?format=json").json() == cli("datasets", "list")
    assert client.get(
        "/sql?format=json&q=SELECT+arch,+count(*)+AS+n+FROM+checkpoints+GROUP+BY+arch+ORDER+BY+arch"
    ).json() == cli("sql", "SELECT arch, count(*) AS n FROM checkpoints GROUP BY arch ORDER BY arch")


def test_checkpoints_page_selects_with_the_query_language_and_pages(client, web) -> None:
    first = client.get("/checkpoints?q=arch%3Dresnet*,min_epoch%3D1&per_page=3&format=json").json()
    second = client.get("/checkpoints?q=arch%3Dresnet*,min_epoch%3D1&per_page=3&page=2&format=json").json()
    assert len(first) == 3 and len(second) == 3
    assert all(r["epoch"] >= 1 and r["arch"].startswith("resnet") for r in first + second)
    assert {r["checkpoint_id"] for r in first}.isdisjoint(r["checkpoint_id"] for r in second)
    page = client.get("/checkpoints?q=arch%3Dresnet*,min_epoch%3D1&per_page=3").text
    assert "<b>8</b> checkpoints" in page and "page 1 of 3" in page and 'rel="next"' in page


def test_runs_filter_by_status_arch_and_grid(client, web) -> None:
    assert [r["id"] for r in client.get("/runs?status=failed&format=json").json()] == [web.failed_run]
    assert {r["arch"] for r in client.get("/runs?arch=resnet5*&format=json").json()} == {"resnet50"}
    grid = client.get("/runs?format=json").json()[0]["grid"]  # by name, as zoo runs --grid NAME
    assert {r["grid"] for r in client.get(f"/runs?grid={grid}&format=json").json()} == {grid}
    missing = client.get("/runs?grid=no-such-grid&format=json")
    assert missing.status_code == 404 and grid in missing.json()["error"]  # the message names the grids there are
    run = client.get(f"/runs/{web.failed_run}?format=json").json()
    assert run["run"]["error"] == web.failed_error and len(run["checkpoints"]) == 2


def test_user_text_is_escaped_on_pages(client, web) -> None:
    page = client.get(f"/runs/{web.failed_run}").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>web test</b>" not in client.get("/fits").text
    assert "&lt;b&gt;" in client.get("/checkpoints?q=arch%3D%3Cb%3E").text


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/checkpoints/999999", 404, "there is no checkpoint 999999; find ids with `zoo query`"),
        ("/runs/999999", 404, "there is no run 999999; list them with `zoo runs`"),
        ("/fits/999999", 404, "there is no fit 999999; list them with `zoo fits`"),
        ("/datasets/nope", 404, "nope"),
        ("/checkpoints?q=colour%3Dred", 400, "colour"),
        ("/checkpoints?q=sharpness%3Cabc", 400, "sharpness"),
        ("/checkpoints?page=0", 400, "page must be at least 1"),
        ("/runs?status=lost", 400, "unknown run status 'lost'"),
        ("/fits?target=mood", 400, "mood"),
        ("/runs?format=xml", 400, "format must be one of html, json"),
        ("/no/such/page", 404, "is not a page of zoo serve"),
    ],
)
def test_bad_ids_and_selections_give_the_clis_one_line_message(client, path: str, status: int, message: str) -> None:
    page = client.get(path)
    assert page.status_code == status
    assert message.replace("`", "") in html.unescape(page.text).replace("`", "") and "Traceback" not in page.text
    if "format=" in path:
        return
    as_json = client.get(path + ("&" if "?" in path else "?") + "format=json")
    assert as_json.status_code == status and message.replace("`", "") in as_json.json()["error"].replace("`", "")


def test_figures_are_pngs_drawn_once_per_content_hash(client, web) -> None:
    web_app = client.app.state.web
    filters = client.get(f"/checkpoints/{web.checkpoint_ids[0]}/filters.png")
    assert filters.headers["content-type"] == "image/png" and _png_size(filters.content)[0] > 100
    drawn = web_app.figures.drawn
    again = client.get(f"/checkpoints/{web.checkpoint_ids[0]}/filters.png")
    assert again.content == filters.content and web_app.figures.drawn == drawn  # served from the cache
    assert (
        client.get(
            f"/checkpoints/{web.checkpoint_ids[0]}/filters.png", headers={"If-None-Match": filters.headers["etag"]}
        ).status_code
        == 304
    )
    assert _png_size(client.get(f"/fits/{web.fit_id}/predictions.png").content) == (800, 450)
    assert _png_size(client.get(f"/datasets/{web.pixel_dataset}/preview.png").content)[1] > 4 * 16
    assert client.get("/datasets/natural-32/preview.png").status_code == 404  # its pixels were never stored


def test_the_filter_figure_is_the_one_zoo_show_writes(client, web, catalog, tmp_path) -> None:
    from zoo.plots import write_filter_figure

    checkpoint = web.checkpoint_ids[5]
    written = write_filter_figure(catalog, checkpoint, tmp_path / "show.png").read_bytes()
    assert client.get(f"/checkpoints/{checkpoint}/filters.png").content == written


def test_sql_page_runs_one_read_only_statement_and_downloads(client, web, catalog, row_counts) -> None:
    page = client.get("/sql?q=SELECT+id,+status+FROM+runs+ORDER+BY+id&limit=3")
    assert page.status_code == 200 and "3 rows" in page.text and "there are more" in page.text
    download = client.get("/sql?q=SELECT+id,+status+FROM+runs+ORDER+BY+id&limit=3&format=csv")
    assert download.headers["content-disposition"].startswith("attachment")
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows[0] == ["id", "status"] and len(rows) == 4 and download.headers["x-zoo-truncated"] == "true"
    before = row_counts(catalog)
    for statement in (
        "DELETE FROM runs",
        "SELECT 1; DROP TABLE runs",
        "UPDATE runs SET status='queued'",
        "WITH x AS (DELETE FROM runs RETURNING id) SELECT * FROM x",
    ):
        refused = client.get("/sql", params={"q": statement})
        assert refused.status_code == 400 and 'id="error-message"' in refused.text, statement
        assert statement.split()[0] in refused.text  # the query stays in the box
        assert client.get("/sql", params={"q": statement, "format": "csv"}).status_code == 400
    assert row_counts(catalog) == before


def test_sql_limits_are_checked(client, web) -> None:
    assert "limit must be between 1 and 10000" in client.get("/sql?q=SELECT+1&limit=0").text
    assert "timeout must be more than 0" in client.get("/sql?q=SELECT+1&timeout=-1").text
    assert client.get("/sql?format=json").status_code == 400  # no query


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_only_get_is_answered(client, method: str) -> None:
    for path in ("/", "/sql", "/checkpoints/1", "/static/style.css", "/no/such/page"):
        response = client.request(method, path, data={"q": "DELETE FROM runs"})
        assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"


def test_pages_carry_security_headers_and_static_files(client) -> None:
    response = client.get("/")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert client.get("/static/app.js").status_code == 200 and client.head("/").status_code == 200


def test_serving_reads_but_never_writes_the_catalog(client, web, catalog, row_counts) -> None:
    before = row_counts(catalog)
    for path in (
        "/",
        "/queue",
        "/datasets",
        f"/datasets/{web.pixel_dataset}",
        f"/datasets/{web.pixel_dataset}/preview.png",
        "/runs",
        f"/runs/{web.stale_run}",
        "/checkpoints",
        f"/checkpoints/{web.checkpoint_ids[0]}",
        f"/checkpoints/{web.checkpoint_ids[0]}/filters.png",
        "/fits",
        f"/fits/{web.fit_id}",
        f"/fits/{web.fit_id}/predictions.png",
        "/sql?q=SELECT+1",
    ):
        assert client.get(path).status_code == 200, path
    assert row_counts(catalog) == before
    assert client.get("/?format=json").json()["queue"]["stale_claims"] == 1  # looking did not re-queue it


def test_importing_zoo_and_the_cli_does_not_import_the_web_stack() -> None:
    code = (
        "import sys, zoo, zoo.cli.main; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'starlette', 'jinja2', 'uvicorn', 'torch', 'zoo.web'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
