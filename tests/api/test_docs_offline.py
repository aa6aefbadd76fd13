"""/docs works offline: Swagger UI's files come from the service itself, pinned."""

import re

from tests.support import ROOT


def test_the_docs_page_asks_no_other_host(service):
    page = service.get("/docs")
    assert page.status_code == 200
    links = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert links and all(link.startswith("/docs/assets/") for link in links), links
    assert "validator.swagger.io" not in page.text and '"validatorUrl": null' in page.text
    for link in links:
        asset = service.get(link)
        assert asset.status_code == 200, link
    bundle = service.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.headers["Content-Type"].startswith(("text/javascript", "application/javascript"))
    assert "SwaggerUIBundle" in bundle.text
    assert service.get("/docs/assets/../../setup.cfg").status_code == 404
    assert "swagger-ui-bundle==" in (ROOT / "setup.cfg").read_text()  # pinned
