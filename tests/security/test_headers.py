"""Security headers on every kind of response; API docs from our own files; the real error
shape in the OpenAPI document."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx

from teamtalk.apidocs import Error
from teamtalk.app import WEB_DIR
from teamtalk.headers import CONTENT_SECURITY_POLICY
from teamtalk.models import Role
from tests.conftest import Harness

EXPECTED = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


def assert_secure(response: httpx.Response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get_list(name) == [value], (response.url, name)
    assert "strict-transport-security" not in response.headers  # plain HTTP


class Page(HTMLParser):
    """What a page loads and whether it carries inline script or style."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and not values.get("src"):
            self.inline.append("<script> without src")
        if tag == "style":
            self.inline.append("<style>")
        self.inline += [f"{tag} {name}=" for name, _ in attrs if name == "style"]
        self.inline += [f"{tag} {name}=" for name, _ in attrs if name.startswith("on")]
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]


def test_policy_allows_no_inline_script_and_no_framing() -> None:
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


def test_built_web_ui_has_nothing_inline() -> None:
    page = Page((WEB_DIR / "index.html").read_text())
    assert page.inline == []
    assert page.urls and all(u.startswith("/") or u.startswith("data:") for u in page.urls)


async def test_api_responses(harness: Harness) -> None:
    agent = await harness.user(Role.AGENT)
    async with harness.client() as anonymous:
        assert_secure(await anonymous.get("/healthz"))
        assert_secure(await anonymous.get("/readyz"))
        refused = await anonymous.get("/api/me")
        assert refused.status_code == 401
        assert_secure(refused)
        missing = await anonymous.get("/api/no-such-thing")
        assert missing.status_code == 404
        assert_secure(missing)
    async with harness.signed_in(agent) as client:
        me = await client.get("/api/me")
        assert me.status_code == 200
        assert_secure(me)
        invalid = await client.post("/api/conversations", json={"topic_id": "x"})
        assert invalid.status_code == 422
        assert_secure(invalid)


async def test_errors_from_the_guards(harness: Harness) -> None:
    """Refused before FastAPI sees the request: cross-site, and too large."""
    async with harness.client(headers={"Origin": "http://evil.example"}) as client:
        cross_site = await client.post("/api/auth/login", json={"email": "a", "password": "b"})
        assert cross_site.status_code == 403
        assert_secure(cross_site)
    async with harness.client() as client:
        too_large = await client.post("/api/auth/login", content=b"x" * (300 * 1024))
        assert too_large.status_code == 413
        assert_secure(too_large)


async def test_web_ui_and_assets(harness: Harness) -> None:
    async with harness.client() as client:
        for path in ("/", "/inbox", "/no/such/page"):
            index = await client.get(path)
            assert index.status_code == 200
            assert index.headers["content-type"].startswith("text/html")
            assert_secure(index)
        urls = [u for u in Page((WEB_DIR / "index.html").read_text()).urls if u.startswith("/")]
        assert any(u.endswith(".js") for u in urls) and any(u.endswith(".css") for u in urls)
        for url in urls:
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert_secure(asset)
        missing = await client.get("/assets/no-such-file.js")
        assert missing.status_code == 404
        assert_secure(missing)


async def test_socketio_polling(harness: Harness) -> None:
    """Engine.IO's own HTTP answers: a handshake, and its refusals."""
    async with harness.client() as client:
        handshake = {"EIO": "4", "transport": "polling"}
        opened = await client.get("/socket.io/", params=handshake)
        assert opened.status_code == 200, opened.text
        assert_secure(opened)
        for params in ({"sid": "no-such-session"}, {"EIO": "3"}):
            query = {"EIO": "4", "transport": "polling", **params}
            refused = await client.get("/socket.io/", params=query)
            assert refused.status_code == 400, refused.text
            assert_secure(refused)


async def test_strict_transport_security_only_over_https(harness: Harness) -> None:
    async with harness.client() as client:
        response = await client.get("https://testserver/healthz")
        assert response.headers["strict-transport-security"] == "max-age=31536000"
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    async with harness.client() as client:
        assert "strict-transport-security" not in (await client.get("/healthz")).headers


async def test_api_docs_come_from_our_own_files(harness: Harness) -> None:
    async with harness.client() as client:
        docs = await client.get("/api/docs")
        assert docs.status_code == 200
        assert docs.headers["content-type"].startswith("text/html")
        assert_secure(docs)
        assert not re.search(r"//[a-z0-9.-]+\.[a-z]", docs.text, re.I)  # no other host
        page = Page(docs.text)
        assert page.inline == []
        scripts = [u for u in page.urls if u.endswith(".js")]
        assert scripts == ["/api/docs/swagger-ui-bundle.js", "/api/docs/init.js"]
        for url in page.urls:
            if url.startswith("data:"):
                continue
            assert url.startswith("/api/docs/"), url
            file = await client.get(url)
            assert file.status_code == 200, url
            assert_secure(file)
        init = await client.get("/api/docs/init.js")
        assert '"/api/openapi.json"' in init.text
        assert "https://" not in init.text and "http://" not in init.text
        missing = await client.get("/api/docs/swagger-editor-bundle.js")
        assert missing.status_code == 404
        assert_secure(missing)
        spec = await client.get("/api/openapi.json")
        assert spec.status_code == 200
        assert_secure(spec)


async def test_openapi_describes_the_real_error_shape(harness: Harness) -> None:
    admin = await harness.user(Role.ADMIN)
    async with harness.client() as client:
        spec = (await client.get("/api/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["Error"]["required"] == ["error"]
    assert set(schemas["ErrorInfo"]["required"]) == {"code", "message", "details"}
    error_ref = {"$ref": "#/components/schemas/Error"}

    def schema_of(path: str, method: str, status: str) -> object:
        response = spec["paths"][path][method]["responses"][status]
        return response["content"]["application/json"]["schema"]

    assert schema_of("/api/users", "post", "422") == error_ref
    assert schema_of("/api/users/{user_id}", "patch", "404") == error_ref
    for status in ("401", "403", "409", "413", "422", "429", "503"):
        assert schema_of("/api/users", "post", status) == error_ref, status
    assert "409" not in spec["paths"]["/api/me"]["get"]["responses"]  # reads change nothing
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and "content" in response:
                    assert schema_of(path, method, status) == error_ref, (path, method, status)

    # And the server really answers in that shape.
    async with harness.signed_in(admin) as client:
        invalid = await client.post("/api/users", json={"email": "not-an-email"})
    assert invalid.status_code == 422
    body = Error.model_validate(invalid.json())
    assert body.error.code == "invalid"
    assert isinstance(body.error.details, list) and body.error.details[0].field
