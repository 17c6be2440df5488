"""The API docs page: Swagger UI from the app's static files renders the schema under the content security
policy (the `page` fixture fails the test on any CSP violation), at desktop and phone size."""

import pytest
from playwright.sync_api import expect

from tests.factories import TreatmentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_api_docs_render_and_try_a_request(page):
    TreatmentFactory(name="Microneedling for cellulite: thighs", slug="microneedling-thighs")
    # Swagger UI is a 1.7 MB script: on a busy shared machine it can take longer than the default 10 s.
    page.goto(page.base_url + "/api/docs/", timeout=45_000)
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Clinic API", timeout=30_000)
    operation = page.locator("#operations-clinic-v1_treatments_list")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    expect(operation.locator(".live-responses-table .response .response-col_status").first).to_contain_text("200")
    expect(operation.locator(".highlight-code").first).to_contain_text("microneedling-thighs")
