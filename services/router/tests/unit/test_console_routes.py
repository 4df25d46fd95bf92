"""The console's static files: served at /console/ with a strict CSP, nothing else."""

from fastapi import FastAPI
from fastapi.testclient import TestClient

from switchboard_router.console.views import router


def client() -> TestClient:
    app = FastAPI()
    app.include_router(router)
    return TestClient(app)


def test_the_console_page_and_its_assets_are_served_with_a_strict_policy():
    c = client()
    page = c.get("/console/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'src="console.js"' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    for name, kind in (("console.js", "text/javascript"), ("console.css", "text/css")):
        asset = c.get(f"/console/{name}")
        assert asset.status_code == 200
        assert asset.headers["content-type"].startswith(kind)


def test_console_without_slash_redirects_to_the_page():
    answer = client().get("/console", follow_redirects=False)
    assert answer.status_code == 308
    assert answer.headers["location"] == "/console/"


def test_only_the_console_files_are_served():
    c = client()
    for path in ("/console/routing.yaml", "/console/..%2Fapi.py", "/console/index.htm"):
        assert c.get(path).status_code == 404, path


def test_the_console_package_code_beside_its_files_is_never_served():
    # The static files now share a folder with console/views.py and __init__.py.
    from switchboard_router.console.views import CONSOLE_DIR

    c = client()
    for name in ("views.py", "__init__.py"):
        assert (CONSOLE_DIR / name).exists(), name
        assert c.get(f"/console/{name}").status_code == 404, name


def test_the_script_never_puts_text_into_markup():
    # Mention text is public and untrusted: the console builds nodes and sets textContent.
    from switchboard_router.console.views import CONSOLE_DIR

    script = (CONSOLE_DIR / "console.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink
