"""The MCP server as an agent's client sees it: the official Python SDK
(`mcp`) over stdio (`atom-harness mcp`, one tenant) and over Streamable HTTP
(`/mcp` on the gateway, a tenant's API key), against the fake Bitbucket."""

import asyncio
import json
import uuid
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import (
    LATEST_PROTOCOL_VERSION,
    CallToolResult,
    ElicitResult,
    ResourceUpdatedNotification,
    ServerNotification,
)
from pydantic import AnyUrl

PR = {"workspace": "atom-labs", "repo_slug": "bitbucket-plugin", "id": 4}
# No call should take this long against the fake; a hang fails the test.
CALL_TIMEOUT = timedelta(seconds=60)


@asynccontextmanager
async def over_stdio(server, *extra, tenant=None, store=None, env=None, **client):
    """`atom-harness mcp` as an MCP client (Claude Desktop, an editor) starts
    it: a child process speaking over its stdin and stdout. By default for
    Ada's token from the environment; `store` names a credential store and
    `tenant` the tenant in it instead. `extra` goes to `mcp`. `client` goes to the SDK's ClientSession
    (an elicitation callback, a message handler)."""
    directory = server["dir"]
    store = store or {"store": directory / "store.sqlite3", "key_file": directory / "store.key"}
    params = StdioServerParameters(
        command=server["harness"],
        args=[
            "--store", str(store["store"]),
            "--key-file", str(store["key_file"]),
            "--allow-host", server["fake_addr"],
            "--config", f"api-base-url={server['api_base_url']}",
            *(["--tenant", tenant] if tenant else []),
            "mcp",
            *extra,
        ],
        env={"BITBUCKET_ACCESS_TOKEN": server["access_token"]} if env is None else env,
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, read_timeout_seconds=CALL_TIMEOUT, **client) as session:
            session.initialized_with = await session.initialize()
            yield session


@asynccontextmanager
async def over_http(gateway_url, key, **client):
    """`/mcp` on the gateway, as a client configured with a URL and an
    `Authorization` header."""
    headers = {"Authorization": f"Bearer {key}"}
    timeout = httpx.Timeout(30, read=300)
    async with httpx.AsyncClient(headers=headers, timeout=timeout) as http:
        async with streamable_http_client(gateway_url + "/mcp", http_client=http) as (read, write, session_id):
            async with ClientSession(read, write, read_timeout_seconds=CALL_TIMEOUT, **client) as session:
                session.initialized_with = await session.initialize()
                session.session_id = session_id()
                yield session


@pytest.fixture(params=["stdio", "http"])
def transport(request):
    return request.param


@pytest.fixture
def connect(transport, stdio_server, gateway_url, acme_key):
    """Opens an acme session over each transport in turn (stdio: Ada's token,
    which is acme's credential on the gateway)."""
    if transport == "stdio":
        return lambda **client: over_stdio(stdio_server, **client)
    return lambda **client: over_http(gateway_url, acme_key, **client)


def catalogue(gateway_url, key):
    """What the gateway publishes at `GET /v1/operations`, by name."""
    answer = httpx.get(f"{gateway_url}/v1/operations", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return {op["name"]: op for op in answer.json()}


async def all_tools(session):
    tools, cursor = [], None
    while True:
        page = await session.list_tools(cursor=cursor) if cursor else await session.list_tools()
        tools += page.tools
        cursor = page.nextCursor
        if not cursor:
            return {tool.name: tool for tool in tools}


def ok(result: CallToolResult, what: str) -> dict:
    assert result.isError is False, f"{what}: {result}"
    assert isinstance(result.structuredContent, dict), f"{what}: {result}"
    # The text copy is the same JSON (well under the 256 KiB text budget).
    assert json.loads(result.content[0].text) == result.structuredContent
    return result.structuredContent


def error(result: CallToolResult, what: str) -> dict:
    assert result.isError is True, f"{what}: {result}"
    assert isinstance(result.structuredContent, dict), f"{what}: {result}"
    typed = result.structuredContent["error"]
    assert {"code", "message", "retryable", "retry_after_seconds", "field"} <= set(typed), typed
    assert result.content and result.content[0].text, result
    return typed


def object_schema(schema):
    return isinstance(schema, dict) and schema.get("type") == "object"


async def test_the_sdk_negotiates_a_current_protocol_over_both_transports(connect, transport, gateway_url, acme_key):
    async with connect() as session:
        initialized = session.initialized_with
        # The SDK's newest version, which rmcp accepts: no fallback to an
        # older one.
        assert initialized.protocolVersion == LATEST_PROTOCOL_VERSION, initialized
        assert initialized.protocolVersion >= "2025-06-18"
        assert initialized.capabilities.tools is not None
        assert initialized.serverInfo.name == ("atom-bitbucket" if transport == "stdio" else "atom-gateway")
        await session.send_ping()
        session_id = getattr(session, "session_id", None)
    if transport == "http":
        # Leaving the client sent DELETE: the session is gone, even for its
        # own tenant's key.
        assert session_id
        gone = httpx.post(
            f"{gateway_url}/mcp",
            headers={
                "Authorization": f"Bearer {acme_key}",
                "Accept": "application/json, text/event-stream",
                "Content-Type": "application/json",
                "Mcp-Session-Id": session_id,
                "Mcp-Protocol-Version": initialized.protocolVersion,
            },
            json={"jsonrpc": "2.0", "id": 9, "method": "tools/list"},
            timeout=30,
        )
        assert gone.status_code == 404, (gone.status_code, gone.text)


async def test_every_operation_but_auth_is_a_tool_as_the_catalogue_says(connect, gateway_url, acme_key):
    operations = catalogue(gateway_url, acme_key)
    expected = {name: op for name, op in operations.items() if not name.startswith("auth-")}
    assert len(expected) >= 60 and len(expected) < len(operations), "the auth-* exchanges exist and are left out"
    async with connect() as session:
        tools = await all_tools(session)
    assert set(tools) == set(expected), (set(tools) ^ set(expected))
    without_output = []
    for name, op in expected.items():
        tool = tools[name]
        assert tool.inputSchema == op["parameters_schema"], name
        if object_schema(op["result_schema"]):
            assert tool.outputSchema == op["result_schema"], name
        else:
            # MCP wants an object schema; such a result answers as text only.
            assert tool.outputSchema is None, name
            without_output.append(name)
        hints = tool.annotations
        assert hints is not None, name
        assert (hints.readOnlyHint, hints.destructiveHint, hints.idempotentHint) == (
            op["read_only"], op["destructive"], op["idempotent"],
        ), name
        assert tool.title == op["title"] or hints.title == op["title"], name
        assert tool.description.startswith(op["description"]), name
    # Today every result of the contract is an object.
    assert without_output == []


async def test_a_read_and_a_write_and_the_write_is_seen(connect):
    async with connect() as session:
        pull_request = ok(await session.call_tool("get-pull-request", PR), "get-pull-request")
        assert pull_request["id"] == 4

        text = f"From the Python MCP client {uuid.uuid4()}"
        created = ok(
            await session.call_tool("create-pull-request-comment", {**PR, "content": text}),
            "create-pull-request-comment",
        )
        assert created["id"], created
        assert text in json.dumps(created)

        seen, cursor = [], None
        while True:
            params = {**PR, "page": {"size": 100, **({"cursor": cursor} if cursor else {})}}
            page = ok(await session.call_tool("list-pull-request-comments", params), "list-pull-request-comments")
            seen += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        mine = [comment for comment in seen if comment["id"] == created["id"]]
        assert len(mine) == 1, f"comment {created['id']} not listed once among {len(seen)}"
        assert text in json.dumps(mine[0])


async def test_a_failure_is_a_typed_tool_error(connect):
    async with connect() as session:
        missing = await session.call_tool("get-repository", {"workspace": "atom-labs", "repo_slug": "no-such-repo"})
        typed = error(missing, "get-repository of a missing repository")
        assert typed["code"] == "not_found", typed
        assert typed["retryable"] is False, typed

        invalid = await session.call_tool("get-repository", {"workspace": "atom-labs"})
        typed = error(invalid, "get-repository without repo_slug")
        assert typed["code"] == "validation", typed
        assert typed["field"] == "repo_slug", typed


async def test_a_listing_pages_to_the_end_through_next_cursor(connect):
    async with connect() as session:
        slugs, cursor, pages = [], None, 0
        while True:
            page = {"size": 100}
            if cursor:
                page["cursor"] = cursor
            answer = ok(
                await session.call_tool("list-repositories", {"workspace": "acme", "page": page}),
                f"list-repositories page {pages + 1}",
            )
            pages += 1
            assert len(answer["items"]) <= 100
            slugs += [repo["slug"] for repo in answer["items"]]
            cursor = answer.get("next_cursor")
            if not cursor:
                break
            assert pages < 10, "the cursor never ends"
    assert pages == 3
    assert len(slugs) == 263
    assert len(set(slugs)) == 263, "no repository twice"


async def test_read_only_over_stdio_lists_and_runs_only_reads(stdio_server, gateway_url, acme_key):
    operations = catalogue(gateway_url, acme_key)
    reads = {name for name, op in operations.items() if op["read_only"] and not name.startswith("auth-")}
    async with over_stdio(stdio_server, "--read-only") as session:
        tools = await all_tools(session)
        assert set(tools) == reads, set(tools) ^ reads
        assert all(tool.annotations.readOnlyHint is True for tool in tools.values())
        assert "approve-pull-request" not in tools

        refused = error(await session.call_tool("approve-pull-request", PR), "approve-pull-request read-only")
        assert refused["code"] == "read_only", refused

        # Reads still run.
        assert ok(await session.call_tool("get-pull-request", PR), "get-pull-request")["id"] == 4

    # Nothing was approved: a fresh session that may write sees no approval
    # by the caller on the pull request.
    async with over_stdio(stdio_server) as session:
        pull_request = ok(await session.call_tool("get-pull-request", PR), "get-pull-request")
        user = ok(await session.call_tool("get-current-user", {}), "get-current-user")
    mine = [p for p in pull_request["participants"] if p["user"]["account_id"] == user["account_id"]]
    assert mine and not any(p["approved"] for p in mine), mine


async def test_two_tenants_on_one_gateway_stay_apart(gateway_url, acme_key, globex_key):
    async with over_http(gateway_url, acme_key) as acme, over_http(gateway_url, globex_key) as globex:
        acme_tools = await all_tools(acme)
        globex_tools = await all_tools(globex)
        # Scopes are unknown for both (globex has no credential): the same tools.
        assert set(globex_tools) == set(acme_tools)
        assert all(globex_tools[name] == acme_tools[name] for name in acme_tools)

        acme_answers, globex_answers = [], []
        calls = [
            ("get-pull-request", PR),
            ("list-repositories", {"workspace": "atom-labs"}),
            ("get-current-user", {}),
            ("get-repository", {"workspace": "atom-labs", "repo_slug": "bitbucket-plugin"}),
        ]
        # Interleaved: acme, globex, acme, globex, ... on two open sessions.
        for name, params in calls:
            acme_answers.append(ok(await acme.call_tool(name, params), f"acme {name}"))
            globex_answers.append(await globex.call_tool(name, params))

        # And at once: both sessions' requests in flight together.
        for name, params in calls:
            ours, theirs = await asyncio.gather(acme.call_tool(name, params), globex.call_tool(name, params))
            assert ok(ours, f"acme {name} at once") == acme_answers[calls.index((name, params))] or name == "get-current-user"
            globex_answers.append(theirs)

        for (name, _), answer in zip(calls + calls, globex_answers):
            typed = error(answer, f"globex {name}")
            assert typed["code"] == "auth_invalid", (name, typed)
            assert set(answer.structuredContent) == {"error"}, answer

        # Nothing acme got shows up anywhere in globex's session.
        acme_values = {
            json.dumps(acme_answers[0]["title"]),
            json.dumps(acme_answers[1]["items"][0]["slug"]),
            json.dumps(acme_answers[3]["full_name"]),
        }
        acme_values |= {
            json.dumps(acme_answers[2][key]) for key in ("account_id", "uuid", "nickname") if acme_answers[2].get(key)
        }
        for answer in globex_answers:
            seen = answer.model_dump_json()
            for value in acme_values:
                assert value.strip('"') not in seen, (value, seen)

        # And acme's session is still acme's after globex's calls.
        again = ok(await acme.call_tool("get-pull-request", PR), "acme get-pull-request again")
        assert again == acme_answers[0]


async def all_comments(session, pull_request=PR):
    seen, cursor = [], None
    while True:
        params = {**pull_request, "page": {"size": 100, **({"cursor": cursor} if cursor else {})}}
        page = ok(await session.call_tool("list-pull-request-comments", params), "list-pull-request-comments")
        seen += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return {comment["id"]: comment for comment in seen}


async def test_a_destructive_tool_runs_only_when_the_user_confirms(connect):
    asked, answer = [], {"action": "decline"}

    async def confirm(context, params):
        asked.append(params.message)
        return ElicitResult(action=answer["action"])

    async with connect(elicitation_callback=confirm) as session:
        created = ok(
            await session.call_tool("create-pull-request-comment", {**PR, "content": f"To delete {uuid.uuid4()}"}),
            "create-pull-request-comment",
        )
        assert asked == [], "a write that destroys nothing is not asked about"
        target = {**PR, "comment_id": created["id"]}

        refused = error(await session.call_tool("delete-pull-request-comment", target), "declined delete")
        assert refused["code"] == "cancelled", refused
        assert len(asked) == 1 and "delete-pull-request-comment" in asked[0], asked
        kept = (await all_comments(session))[created["id"]]
        assert not kept.get("deleted"), kept

        answer["action"] = "accept"
        deleted = ok(await session.call_tool("delete-pull-request-comment", target), "confirmed delete")
        assert deleted["comment_id"] == created["id"], deleted
        assert len(asked) == 2, asked
        gone = (await all_comments(session)).get(created["id"])
        assert gone is None or gone.get("deleted") is True, gone


async def test_a_tool_the_consent_does_not_cover_is_hidden_and_refused(stdio_server, narrow_store, gateway_url, acme_key):
    """Tenant `narrow` holds an OAuth token whose consent granted reading
    only (account, repository, pullrequest): the tools needing anything else
    are not listed, and calling one answers the scopes it needs."""
    granted = set(narrow_store["scopes"])
    operations = catalogue(gateway_url, acme_key)
    covered = {
        name for name, op in operations.items()
        if not name.startswith("auth-") and set(op["scopes"]) <= granted
    }
    async with over_stdio(stdio_server, tenant="narrow", store=narrow_store, env={}) as session:
        tools = await all_tools(session)
        assert set(tools) == covered, set(tools) ^ covered
        for hidden in ("trigger-pipeline", "create-webhook", "create-issue", "list-pipelines"):
            assert hidden not in tools, hidden

        refused = error(
            await session.call_tool(
                "trigger-pipeline",
                {"workspace": "atom-labs", "repo_slug": "bitbucket-plugin", "branch": "main"},
            ),
            "trigger-pipeline without pipeline:write",
        )
        assert refused["code"] == "permission_denied", refused
        assert refused["details"]["required_scopes"] == operations["trigger-pipeline"]["scopes"], refused

        # What the consent covers still works.
        assert ok(await session.call_tool("get-pull-request", PR), "get-pull-request")["id"] == 4


async def test_prompts_and_resources_carry_what_their_reads_answer(connect):
    async with connect() as session:
        prompts = {prompt.name: prompt for prompt in (await session.list_prompts()).prompts}
        assert {"review-pull-request", "explain-failed-pipeline", "summarise-open-work"} <= set(prompts)
        assert {a.name for a in prompts["review-pull-request"].arguments} == {"workspace", "repo_slug", "id"}

        pull_request = ok(await session.call_tool("get-pull-request", PR), "get-pull-request")
        review = await session.get_prompt(
            "review-pull-request", {"workspace": PR["workspace"], "repo_slug": PR["repo_slug"], "id": "4"}
        )
        text = "\n".join(m.content.text for m in review.messages if m.content.type == "text")
        assert "Review pull request #4 of atom-labs/bitbucket-plugin" in text
        assert pull_request["title"] in text
        assert "src/auth.rs" in text, "the bundle's diff of the changed file is in the prompt"

        templates = {t.name: t.uriTemplate for t in (await session.list_resource_templates()).resourceTemplates}
        assert templates["pull-request"] == "bitbucket://{workspace}/{repo_slug}/pull-requests/{id}"
        assert {"repository", "file", "pipeline", "step-log"} <= set(templates)

        read = await session.read_resource(AnyUrl("bitbucket://atom-labs/bitbucket-plugin/pull-requests/4"))
        assert json.loads(read.contents[0].text) == pull_request

        file = {"workspace": PR["workspace"], "repo_slug": PR["repo_slug"], "revision": "feature%2Flogin", "path": "src/auth.rs"}
        read = await session.read_resource(AnyUrl("bitbucket://{workspace}/{repo_slug}/src/{revision}/{path}".format(**file)))
        called = ok(await session.call_tool("get-file", {**file, "revision": "feature/login"}), "get-file")
        assert json.loads(read.contents[0].text) == called


class Heard:
    """What a session was told unasked: the URIs of resources/updated."""

    def __init__(self):
        self.updated = []

    async def __call__(self, message):
        if isinstance(message, ServerNotification) and isinstance(message.root, ResourceUpdatedNotification):
            self.updated.append(str(message.root.params.uri))

    async def until(self, uri, count, seconds=15):
        for _ in range(seconds * 20):
            if self.updated.count(uri) >= count:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{uri} was not updated {count} times within {seconds} s: {self.updated}")


async def test_a_signed_delivery_wakes_the_subscribed_session_of_its_tenant_only(gateway_url, acme_key, globex_key, acme_webhook_secret):
    pull_request = "bitbucket://atom-labs/bitbucket-plugin/pull-requests/4"
    repository = "bitbucket://atom-labs/bitbucket-plugin"
    other = "bitbucket://atom-labs/bitbucket-plugin/pull-requests/1"
    acme_heard, globex_heard = Heard(), Heard()
    async with over_http(gateway_url, acme_key, message_handler=acme_heard) as acme, \
            over_http(gateway_url, globex_key, message_handler=globex_heard) as globex:
        assert acme.initialized_with.capabilities.resources.subscribe is True
        for uri in (pull_request, repository, other):
            await acme.subscribe_resource(AnyUrl(uri))
        # Globex watches the same resources: acme's events are not its own.
        for uri in (pull_request, repository):
            await globex.subscribe_resource(AnyUrl(uri))

        hook = ok(
            await acme.call_tool("create-webhook", {
                "workspace": PR["workspace"],
                "repo_slug": PR["repo_slug"],
                "url": f"{gateway_url}/bitbucket/webhooks/acme",
                "events": ["pullrequest:comment_created"],
                "secret": acme_webhook_secret,
            }),
            "create-webhook",
        )
        try:
            ok(await acme.call_tool("create-pull-request-comment", {**PR, "content": "Wakes the subscribers"}), "comment")
            await acme_heard.until(pull_request, 1)
            await acme_heard.until(repository, 1)
            assert other not in acme_heard.updated, acme_heard.updated

            # Unsubscribed, the pull request is quiet; the repository (sent
            # after it for the same delivery, on the same stream) is not.
            await acme.unsubscribe_resource(AnyUrl(pull_request))
            ok(await acme.call_tool("create-pull-request-comment", {**PR, "content": "Wakes the repository"}), "comment")
            await acme_heard.until(repository, 2)
            assert acme_heard.updated.count(pull_request) == 1, acme_heard.updated
            await asyncio.sleep(0.5)
            assert globex_heard.updated == [], globex_heard.updated
        finally:
            ok(
                await acme.call_tool("delete-webhook", {
                    "workspace": PR["workspace"], "repo_slug": PR["repo_slug"], "uuid": hook["uuid"],
                }),
                "delete-webhook",
            )
