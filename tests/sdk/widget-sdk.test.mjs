// Unit tests of composites/static/composites/widget-sdk.js under Node's test
// runner: the script runs against a fake `window` whose fetch is a stub.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

const SCRIPT_PATH = fileURLToPath(
  new URL("../../composites/static/composites/widget-sdk.js", import.meta.url),
);
const PAGE_ORIGIN = "https://community.example";
const ENDPOINT = `${PAGE_ORIGIN}/widget-service/connectors/composite`;

// The script's own text, wrapped so that `window` is whatever the test hands
// it; run in this realm, so its errors are instances of this realm's Error.
const runScript = vm.runInThisContext(
  `(function (window) {\n${readFileSync(SCRIPT_PATH, "utf8")}\n})`,
  { filename: SCRIPT_PATH, lineOffset: -1 },
);

function fakeDocument({ meta = null, input = null, cookie = "" } = {}) {
  const elements = {
    'meta[name="csrftoken"]': meta === null ? null : { getAttribute: () => meta },
    'input[name="csrfmiddlewaretoken"]': input === null ? null : { value: input },
  };
  return { cookie, querySelector: (selector) => elements[selector] ?? null };
}

function jsonResponse(body, status = 200, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

// A fetch stub that records each call and answers with `respond(url, init)`.
function stubFetch(respond = () => jsonResponse({ ok: true })) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init });
    return respond(url, init);
  };
  return { fetch, calls };
}

// Never settles unless the request's signal aborts, as a real fetch would.
function hangingUntilAborted(signal) {
  return new Promise((resolve, reject) => {
    signal.addEventListener("abort", () => reject(signal.reason));
  });
}

function loadSdk({ respond, document = fakeDocument(), location } = {}) {
  const { fetch, calls } = stubFetch(respond);
  const window = {
    fetch,
    document,
    location: location === undefined
      ? { origin: PAGE_ORIGIN, href: `${PAGE_ORIGIN}/community/page?x=1` }
      : location,
  };
  runScript(window);
  return { window, calls };
}

function newSdk(sdkOptions, environment) {
  const { window, calls } = loadSdk(environment);
  return { sdk: new window.WidgetServiceSDK(sdkOptions), window, calls };
}

function execute(sdk, options) {
  return sdk.connectors.composite.execute(options);
}

function httpError(status, detail, requestId) {
  return { status, code: "HTTP_ERROR", detail, scope: null, requestId };
}

const ENVELOPE = {
  success: false,
  errors: {
    code: "STEP_HTTP_ERROR",
    detail: "The upstream answered 404.",
    scope: "Composite step 'fetch-user' (index 1): Downstream (HTTP error)",
  },
  request_id: "req-from-envelope",
};

test("script defines the SDK and both error classes on window", () => {
  const { window } = loadSdk();

  assert.equal(typeof window.WidgetServiceSDK, "function");
  const { WidgetServiceSDK } = window;
  assert.equal(WidgetServiceSDK.ConnectorExecuteError, window.ConnectorExecuteError);
  assert.equal(WidgetServiceSDK.ConnectorBoundaryError, window.ConnectorBoundaryError);
});

test("script under CommonJS exports the SDK and both error classes", () => {
  const exported = createRequire(import.meta.url)(SCRIPT_PATH);

  assert.deepEqual(Object.keys(exported).sort(), [
    "ConnectorBoundaryError",
    "ConnectorExecuteError",
    "WidgetServiceSDK",
  ]);
  assert.equal(globalThis.WidgetServiceSDK, undefined);
});

test("execute posts to the default base URL on the page's origin", async () => {
  const { sdk, calls } = newSdk();

  const data = await execute(sdk, { permalink: "auth-and-fetch-user" });

  assert.deepEqual(data, { ok: true });
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url, `${ENDPOINT}/auth-and-fetch-user/execute`);
  assert.equal(calls[0].init.method, "POST");
  assert.equal(calls[0].init.credentials, "same-origin");
  assert.equal(calls[0].init.headers.get("Accept"), "application/json");
});

for (const [permalink, path] of [
  ["a b/c?d", "a%20b%2Fc%3Fd"],
  [42, "42"],
  [0, "0"],
]) {
  test(`execute with permalink ${JSON.stringify(permalink)} puts ${path}`, async () => {
    const { sdk, calls } = newSdk();

    await execute(sdk, { permalink });

    assert.equal(calls[0].url, `${ENDPOINT}/${path}/execute`);
  });
}

for (const [baseUrl, expected] of [
  ["https://api.example/ws///", "https://api.example/ws"],
  ["/custom/", `${PAGE_ORIGIN}/custom`],
  ["/", PAGE_ORIGIN],
]) {
  test(`SDK with baseUrl ${baseUrl} posts under ${expected}`, async () => {
    const { sdk, calls } = newSdk({ baseUrl });

    await execute(sdk, { permalink: "p" });

    assert.equal(sdk.baseUrl, expected);
    assert.equal(calls[0].url, `${expected}/connectors/composite/p/execute`);
  });
}

test("SDK outside a page keeps a relative default base URL", () => {
  const { sdk } = newSdk(undefined, { location: null });

  assert.equal(sdk.baseUrl, "/widget-service");
});

test("execute sends the payload as a JSON body", async () => {
  const { sdk, calls } = newSdk();

  await execute(sdk, {
    permalink: "p",
    payload: { name: "Zoë", tags: ["a"], nested: { n: 1 } },
  });

  assert.equal(calls[0].init.headers.get("Content-Type"), "application/json");
  assert.deepEqual(JSON.parse(calls[0].init.body), {
    name: "Zoë",
    tags: ["a"],
    nested: { n: 1 },
  });
});

for (const payload of [undefined, null]) {
  test(`execute with payload ${payload} sends no body, no Content-Type`, async () => {
    const { sdk, calls } = newSdk();

    await execute(sdk, { permalink: "p", payload });

    assert.equal(calls[0].init.body, null);
    assert.equal(calls[0].init.headers.get("Content-Type"), null);
  });
}

test("execute accepts a payload made by Object.create(null)", async () => {
  const { sdk, calls } = newSdk();
  const payload = Object.create(null);
  payload.a = 1;

  await execute(sdk, { permalink: "p", payload });

  assert.equal(calls[0].init.body, '{"a":1}');
});

test("execute builds the query string, repeating keys for arrays", async () => {
  const { sdk, calls } = newSdk();

  await execute(sdk, {
    permalink: "p",
    queryParams: {
      q: "a b&c",
      page: 2,
      draft: false,
      tag: ["x", "y"],
      none: [],
      skippedNull: null,
      skippedUndefined: undefined,
    },
  });

  const url = new URL(calls[0].url);
  assert.equal(url.search, "?q=a+b%26c&page=2&draft=false&tag=x&tag=y");
});

test("execute with empty queryParams adds no question mark", async () => {
  const { sdk, calls } = newSdk();

  await execute(sdk, { permalink: "p", queryParams: {} });

  assert.equal(calls[0].url, `${ENDPOINT}/p/execute`);
});

const EVERY_TOKEN_SOURCE = {
  meta: "from-meta",
  input: "from-input",
  cookie: "a=1; csrftoken=from-cookie",
};

for (const [label, csrfToken, documentParts, expected] of [
  ["the option first", "from-option", EVERY_TOKEN_SOURCE, "from-option"],
  ["the meta element second", undefined, EVERY_TOKEN_SOURCE, "from-meta"],
  [
    "the form input third",
    undefined,
    { input: "from-input", cookie: "csrftoken=from-cookie" },
    "from-input",
  ],
  [
    "the cookie last",
    undefined,
    { cookie: "other=1; csrftoken=from-cookie; x=2" },
    "from-cookie",
  ],
  ["no header when none is found", undefined, { cookie: "other=1" }, null],
  ["past an empty meta", undefined, { meta: "", cookie: "csrftoken=c" }, "c"],
]) {
  test(`CSRF token discovery takes ${label}`, async () => {
    const document = fakeDocument(documentParts);
    const { sdk, calls } = newSdk({ csrfToken }, { document });

    await execute(sdk, { permalink: "p" });

    assert.equal(calls[0].init.headers.get("X-CSRFToken"), expected);
  });
}

test("CSRF token is looked up again on every call", async () => {
  const document = fakeDocument({ cookie: "csrftoken=before-sign-in" });
  const { sdk, calls } = newSdk(undefined, { document });

  await execute(sdk, { permalink: "p" });
  document.cookie = "csrftoken=after-sign-in";
  await execute(sdk, { permalink: "p" });

  assert.equal(calls[0].init.headers.get("X-CSRFToken"), "before-sign-in");
  assert.equal(calls[1].init.headers.get("X-CSRFToken"), "after-sign-in");
});

test("CSRF token is not sent to another origin", async () => {
  const { sdk, calls } = newSdk(
    { baseUrl: "https://elsewhere.example/widget-service", csrfToken: "secret" },
  );

  await execute(sdk, { permalink: "p" });

  assert.equal(calls[0].init.headers.get("X-CSRFToken"), null);
});

test("SDK headers are sent and may replace Accept", async () => {
  const headers = { "X-Widget": "weather", accept: "text/plain" };
  const { sdk, calls } = newSdk({ headers });

  await execute(sdk, { permalink: "p" });

  assert.equal(calls[0].init.headers.get("X-Widget"), "weather");
  assert.equal(calls[0].init.headers.get("Accept"), "text/plain");
});

for (const [label, options, field] of [
  ["options that are not an object", "p", "options"],
  ["a missing permalink", {}, "permalink"],
  ["an empty permalink", { permalink: "" }, "permalink"],
  ["a blank permalink", { permalink: "  " }, "permalink"],
  ["a boolean permalink", { permalink: true }, "permalink"],
  ["a negative id", { permalink: -1 }, "permalink"],
  ["a fractional id", { permalink: 1.5 }, "permalink"],
  ["a string payload", { permalink: "p", payload: '{"a":1}' }, "payload"],
  ["an array payload", { permalink: "p", payload: [1] }, "payload"],
  ["a class instance payload", { permalink: "p", payload: new Date(0) }, "payload"],
  ["a payload with a cycle", { permalink: "p", payload: cyclic() }, "payload"],
  ["a payload with a BigInt", { permalink: "p", payload: { n: 1n } }, "payload"],
  ["any pathParams", { permalink: "p", pathParams: { id: 1 } }, "pathParams"],
  ["an undefined pathParams", { permalink: "p", pathParams: undefined }, "pathParams"],
  ["string queryParams", { permalink: "p", queryParams: "a=1" }, "queryParams"],
  ["a nested query value", { permalink: "p", queryParams: { f: {} } }, "queryParams.f"],
  ["a null item", { permalink: "p", queryParams: { f: [null] } }, "queryParams.f"],
  ["a NaN query value", { permalink: "p", queryParams: { n: NaN } }, "queryParams.n"],
  ["an unknown option", { permalink: "p", body: {} }, "body"],
  ["a zero timeout", { permalink: "p", timeout: 0 }, "timeout"],
  ["a string timeout", { permalink: "p", timeout: "5" }, "timeout"],
]) {
  test(`execute with ${label} refuses ${field} and sends nothing`, async () => {
    const { sdk, window, calls } = newSdk();

    await assert.rejects(execute(sdk, options), (error) => {
      assert.ok(error instanceof window.ConnectorBoundaryError);
      assert.equal(error.name, "ConnectorBoundaryError");
      assert.equal(error.field, field);
      return true;
    });
    assert.equal(calls.length, 0);
  });
}

function cyclic() {
  const value = {};
  value.self = value;
  return value;
}

for (const [label, options, field] of [
  ["options that are not an object", "https://x", "options"],
  ["a non-string baseUrl", { baseUrl: 1 }, "baseUrl"],
  ["an empty baseUrl", { baseUrl: "" }, "baseUrl"],
  ["a baseUrl with a query", { baseUrl: "/ws?a=1" }, "baseUrl"],
  ["an empty csrfToken", { csrfToken: "" }, "csrfToken"],
  ["a negative timeout", { timeout: -1 }, "timeout"],
  ["an infinite timeout", { timeout: Infinity }, "timeout"],
  ["a timeout past setTimeout's range", { timeout: 2 ** 31 }, "timeout"],
  ["headers that are not an object", { headers: [["a", "b"]] }, "headers"],
  ["a number header value", { headers: { "X-N": 1 } }, "headers.X-N"],
  ["a header value with a line break", { headers: { "X-N": "a\r\nb" } }, "headers.X-N"],
  ["an invalid header name", { headers: { "X N": "a" } }, "headers.X N"],
  ["Content-Type", { headers: { "content-type": "a" } }, "headers.content-type"],
  ["an X-CSRFToken header", { headers: { "X-CSRFToken": "t" } }, "headers.X-CSRFToken"],
  ["an unknown option", { timeOut: 5 }, "timeOut"],
]) {
  test(`SDK constructor with ${label} throws on ${field}`, () => {
    const { window } = loadSdk();

    assert.throws(() => new window.WidgetServiceSDK(options), (error) => {
      assert.ok(error instanceof window.ConnectorBoundaryError);
      assert.equal(error.field, field);
      return true;
    });
  });
}

test("SDK exposes its defaults and cannot be changed", () => {
  const { sdk } = newSdk();

  assert.equal(sdk.timeout, 30000);
  assert.ok(Object.isFrozen(sdk));
  assert.ok(Object.isFrozen(sdk.connectors.composite));
});

test("execute detached from the SDK still works", async () => {
  const { sdk, calls } = newSdk();
  const detached = sdk.connectors.composite.execute;

  await detached({ permalink: "p" });

  assert.equal(calls.length, 1);
});

for (const [label, response, expected] of [
  ["an empty 200", () => new Response("", { status: 200 }), null],
  ["a 204", () => new Response(null, { status: 204 }), null],
  ["a relayed 3xx with JSON", () => jsonResponse({ to: "x" }, 302), { to: "x" }],
  ["JSON labelled as text", () => new Response("[1,2]", { status: 200 }), [1, 2]],
  ["a 200 false-looking envelope", () => jsonResponse(ENVELOPE, 200), ENVELOPE],
]) {
  test(`execute on ${label} resolves with ${JSON.stringify(expected)}`, async () => {
    const { sdk } = newSdk(undefined, { respond: response });

    assert.deepEqual(await execute(sdk, { permalink: "p" }), expected);
  });
}

test("execute on an error envelope rejects with its fields", async () => {
  const headers = { "X-Request-ID": "req-from-header" };
  const respond = () => jsonResponse(ENVELOPE, 502, headers);
  const { sdk, window } = newSdk(undefined, { respond });

  await assert.rejects(execute(sdk, { permalink: "fetch" }), (error) => {
    assert.ok(error instanceof window.ConnectorExecuteError);
    assert.ok(error instanceof Error);
    assert.equal(error.name, "ConnectorExecuteError");
    assert.equal(error.status, 502);
    assert.equal(error.code, "STEP_HTTP_ERROR");
    assert.equal(error.detail, ENVELOPE.errors.detail);
    assert.equal(error.scope, ENVELOPE.errors.scope);
    assert.equal(error.requestId, "req-from-envelope");
    assert.match(error.message, /'fetch' failed with 502 STEP_HTTP_ERROR: The up/);
    return true;
  });
});

test("execute on an envelope without request_id takes X-Request-ID", async () => {
  const { request_id: _, ...envelope } = ENVELOPE;
  const headers = { "X-Request-ID": "req-from-header" };
  const respond = () => jsonResponse(envelope, 404, headers);
  const { sdk } = newSdk(undefined, { respond });

  await assert.rejects(execute(sdk, { permalink: "p" }), {
    name: "ConnectorExecuteError",
    requestId: "req-from-header",
  });
});

for (const [label, respond, expected] of [
  [
    "an HTML error page",
    () => new Response("<h1>Bad gateway</h1>", {
      status: 502,
      statusText: "Bad Gateway",
      headers: { "X-Request-ID": "r1" },
    }),
    httpError(502, "Bad Gateway", "r1"),
  ],
  [
    "a JSON detail without an envelope",
    () => jsonResponse({ detail: "CSRF Failed: CSRF token missing." }, 403),
    httpError(403, "CSRF Failed: CSRF token missing.", null),
  ],
  [
    "an empty body without a status text",
    () => new Response("", { status: 500 }),
    httpError(500, "HTTP 500", null),
  ],
]) {
  test(`execute on ${label} rejects with an HTTP_ERROR`, async () => {
    const { sdk } = newSdk(undefined, { respond });

    await assert.rejects(execute(sdk, { permalink: "p" }), (error) => {
      assert.equal(error.name, "ConnectorExecuteError");
      const { status, code, detail, scope, requestId } = error;
      assert.deepEqual({ status, code, detail, scope, requestId }, expected);
      return true;
    });
  });
}

test("execute on a 2xx body that is not JSON rejects with a plain Error", async () => {
  const headers = { "Content-Type": "text/html" };
  const respond = () => new Response("<html>", { status: 200, headers });
  const { sdk, window } = newSdk(undefined, { respond });

  await assert.rejects(execute(sdk, { permalink: "p" }), (error) => {
    assert.equal(error.constructor, Error);
    assert.ok(!(error instanceof window.ConnectorExecuteError));
    assert.equal(
      error.message,
      "Composite 'p' answered 200 with a body that is not JSON " +
        "(Content-Type: text/html)",
    );
    assert.ok(error.cause instanceof SyntaxError);
    return true;
  });
});

test("execute on a network failure rejects with a plain Error", async () => {
  const failure = new TypeError("fetch failed");
  const respond = () => Promise.reject(failure);
  const { sdk } = newSdk(undefined, { respond });

  await assert.rejects(execute(sdk, { permalink: "p" }), (error) => {
    assert.equal(error.constructor, Error);
    assert.equal(
      error.message,
      "Network error calling composite 'p': fetch failed",
    );
    assert.equal(error.cause, failure);
    return true;
  });
});

for (const [label, sdkOptions, executeTimeout, expectedMs] of [
  ["the SDK's timeout", { timeout: 20 }, undefined, 20],
  ["a per-call timeout", { timeout: 60000 }, 15, 15],
]) {
  test(`execute past ${label} aborts and rejects with a plain Error`, async () => {
    let signal;
    const respond = (url, init) => {
      signal = init.signal;
      return hangingUntilAborted(init.signal);
    };
    const { sdk } = newSdk(sdkOptions, { respond });

    await assert.rejects(
      execute(sdk, { permalink: "slow", timeout: executeTimeout }),
      (error) => {
        assert.equal(error.constructor, Error);
        assert.equal(error.name, "Error");
        const expected = `Composite 'slow' timed out after ${expectedMs} ms`;
        assert.equal(error.message, expected);
        assert.equal(error.cause.name, "AbortError");
        return true;
      },
    );
    assert.ok(signal.aborted);
  });
}

test("execute times out while reading a slow body", async () => {
  const respond = (url, init) => ({
    status: 200,
    headers: new Headers(),
    text: () => hangingUntilAborted(init.signal),
  });
  const { sdk } = newSdk({ timeout: 20 }, { respond });

  await assert.rejects(
    execute(sdk, { permalink: "p" }),
    { message: "Composite 'p' timed out after 20 ms" },
  );
});
