"""/docs works offline: Swagger UI's files come from the service itself, pinned."""

import re

from tests.support import ROOT


def test_the_docs_page_asks_no_other_host(service):
    page = service.get("/docs")
    assert page.status_code == 200
    links = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    # Swagger UI's files, its set-up and the way back to the UI: all from the service.
    assert links and all(link.startswith("/") and not link.startswith("//") for link in links)
    assert {"/docs/assets/swagger-ui-bundle.js", "/ui/static/docs.js", "/ui/"} <= set(links)
    assert "validator.swagger.io" not in page.text and '"validatorUrl": null' in page.text
    for link in links:
        asset = service.get(link)
        assert asset.status_code == 200, link
    bundle = service.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.headers["Content-Type"].startswith(("text/javascript", "application/javascript"))
    assert "SwaggerUIBundle" in bundle.text
    assert service.get("/docs/assets/../../setup.cfg").status_code == 404
    assert "swagger-ui-bundle==" in (ROOT / "setup.cfg").read_text()  # pinned
