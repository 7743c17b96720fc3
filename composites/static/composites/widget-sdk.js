// @ts-check
/*
 * Widget service SDK: lets widget code run composite connectors on the
 * platform.
 *
 * A plain browser script, no build step and no dependencies. It defines
 * window.WidgetServiceSDK, window.ConnectorExecuteError and
 * window.ConnectorBoundaryError; under CommonJS it exports the same three
 * names. widget-sdk.d.ts beside it states the contract.
 */
(function (root) {
  "use strict";

  const DEFAULT_BASE_PATH = "/widget-service";
  const DEFAULT_TIMEOUT_MS = 30000;
  // setTimeout fires at once for delays past a signed 32-bit integer.
  const MAX_TIMEOUT_MS = 2147483647;
  const CSRF_COOKIE_NAME = "csrftoken";
  const CSRF_HEADER = "X-CSRFToken";
  const REQUEST_ID_HEADER = "X-Request-ID";
  // Headers the SDK sets itself; the `headers` option may not replace them.
  const RESERVED_HEADERS = ["content-type", "x-csrftoken"];
  const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
  const HEADER_VALUE_FORBIDDEN = /[\r\n\0]/;
  const SDK_OPTIONS = ["baseUrl", "csrfToken", "headers", "timeout"];
  const EXECUTE_OPTIONS = ["permalink", "payload", "queryParams", "timeout"];

  /**
   * @typedef {import("./widget-sdk").ConnectorExecuteErrorInit} ExecuteErrorInit
   * @typedef {import("./widget-sdk").CompositeConnector} CompositeConnector
   * @typedef {{ [key: string]: unknown }} PlainObject
   */

  /**
   * An SDK's options, checked.
   *
   * @typedef {object} SdkConfig
   * @property {string} baseUrl
   * @property {string | null} csrfToken
   * @property {Array<[string, string]>} headers
   * @property {number} timeout
   */

  /**
   * One call's options, checked and encoded.
   *
   * @typedef {object} CompositeCall
   * @property {string} permalink
   * @property {string} url
   * @property {string | null} body
   * @property {number} timeout
   */

  class ConnectorExecuteError extends Error {
    /**
     * @param {string} message
     * @param {ExecuteErrorInit} init
     */
    constructor(message, init) {
      super(message);
      /** @type {"ConnectorExecuteError"} */
      this.name = "ConnectorExecuteError";
      this.status = init.status;
      this.code = init.code;
      this.detail = init.detail;
      this.scope = init.scope;
      this.requestId = init.requestId;
    }
  }

  class ConnectorBoundaryError extends Error {
    /**
     * @param {string} message
     * @param {string} field
     */
    constructor(message, field) {
      super(message);
      /** @type {"ConnectorBoundaryError"} */
      this.name = "ConnectorBoundaryError";
      this.field = field;
    }
  }

  /**
   * Accept objects made by a literal, JSON.parse or Object.create(null),
   * including ones from another frame, and nothing else.
   *
   * @param {unknown} value
   * @returns {value is PlainObject}
   */
  function isPlainObject(value) {
    if (value === null || typeof value !== "object") {
      return false;
    }
    const proto = Object.getPrototypeOf(value);
    return proto === null || Object.getPrototypeOf(proto) === null;
  }

  /**
   * @param {unknown} value
   * @param {string} field
   * @returns {number}
   */
  function checkTimeout(value, field) {
    if (
      typeof value !== "number" ||
      !Number.isFinite(value) ||
      value <= 0 ||
      value > MAX_TIMEOUT_MS
    ) {
      throw new ConnectorBoundaryError(
        field +
          " must be a number of milliseconds above 0 and at most " +
          MAX_TIMEOUT_MS,
        field
      );
    }
    return value;
  }

  /**
   * @param {PlainObject} options
   * @param {string[]} known
   * @param {string} where
   */
  function refuseUnknownKeys(options, known, where) {
    for (const key of Object.keys(options)) {
      if (known.indexOf(key) === -1) {
        throw new ConnectorBoundaryError(
          where + ": unknown option '" + key + "'; known: " + known.join(", "),
          key
        );
      }
    }
  }

  /**
   * @param {unknown} value
   * @returns {string}
   */
  function resolveBaseUrl(value) {
    if (value === undefined) {
      return root.location
        ? root.location.origin + DEFAULT_BASE_PATH
        : DEFAULT_BASE_PATH;
    }
    if (typeof value !== "string" || value.trim() === "") {
      throw new ConnectorBoundaryError(
        "baseUrl must be a non-empty string",
        "baseUrl"
      );
    }
    if (/[?#]/.test(value)) {
      throw new ConnectorBoundaryError(
        "baseUrl must not have a query string or fragment",
        "baseUrl"
      );
    }

    let resolved = value;
    if (root.location) {
      try {
        resolved = new URL(value, root.location.href).href;
      } catch (error) {
        throw new ConnectorBoundaryError(
          "baseUrl is not a valid URL: " + value,
          "baseUrl"
        );
      }
    }
    return resolved.replace(/\/+$/, "");
  }

  /**
   * @param {unknown} value
   * @returns {string | null}
   */
  function checkCsrfToken(value) {
    if (value === undefined || value === null) {
      return null;
    }
    if (typeof value !== "string" || value === "") {
      throw new ConnectorBoundaryError(
        "csrfToken must be a non-empty string, or absent to look it up",
        "csrfToken"
      );
    }
    return value;
  }

  /**
   * @param {unknown} value
   * @returns {Array<[string, string]>}
   */
  function checkHeaders(value) {
    if (value === undefined) {
      return [];
    }
    if (!isPlainObject(value)) {
      throw new ConnectorBoundaryError(
        "headers must be a plain object of header names to strings",
        "headers"
      );
    }

    /** @type {Array<[string, string]>} */
    const headers = [];
    for (const name of Object.keys(value)) {
      const headerValue = value[name];
      const field = "headers." + name;
      if (!HEADER_NAME.test(name)) {
        throw new ConnectorBoundaryError(
          "'" + name + "' is not a valid header name",
          field
        );
      }
      if (RESERVED_HEADERS.indexOf(name.toLowerCase()) !== -1) {
        throw new ConnectorBoundaryError(
          "the SDK sets " + name + " itself; use the csrfToken option for " +
            "the CSRF token",
          field
        );
      }
      if (
        typeof headerValue !== "string" ||
        HEADER_VALUE_FORBIDDEN.test(headerValue)
      ) {
        throw new ConnectorBoundaryError(
          "header " + name + " must be a string without line breaks",
          field
        );
      }
      headers.push([name, headerValue]);
    }
    return headers;
  }

  /**
   * @param {unknown} options
   * @returns {SdkConfig}
   */
  function readSdkOptions(options) {
    if (options === undefined) {
      options = {};
    }
    if (!isPlainObject(options)) {
      throw new ConnectorBoundaryError(
        "WidgetServiceSDK options must be a plain object",
        "options"
      );
    }
    refuseUnknownKeys(options, SDK_OPTIONS, "WidgetServiceSDK");

    return {
      baseUrl: resolveBaseUrl(options.baseUrl),
      csrfToken: checkCsrfToken(options.csrfToken),
      headers: checkHeaders(options.headers),
      timeout:
        options.timeout === undefined
          ? DEFAULT_TIMEOUT_MS
          : checkTimeout(options.timeout, "timeout"),
    };
  }

  /**
   * @param {unknown} value
   * @returns {string}
   */
  function checkPermalink(value) {
    if (typeof value === "string" && value.trim() !== "") {
      return value;
    }
    if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) {
      return String(value);
    }
    throw new ConnectorBoundaryError(
      "permalink must be a non-empty string or a non-negative integer id",
      "permalink"
    );
  }

  /**
   * @param {unknown} value
   * @returns {string | null}
   */
  function encodePayload(value) {
    if (value === undefined || value === null) {
      return null;
    }
    if (!isPlainObject(value)) {
      throw new ConnectorBoundaryError(
        "payload must be a plain object (it is sent as JSON), not " +
          describe(value),
        "payload"
      );
    }
    try {
      return JSON.stringify(value);
    } catch (error) {
      throw new ConnectorBoundaryError(
        "payload cannot be encoded as JSON: " + messageOf(error),
        "payload"
      );
    }
  }

  /**
   * @param {unknown} value
   * @returns {string}
   */
  function encodeQuery(value) {
    if (value === undefined) {
      return "";
    }
    if (!isPlainObject(value)) {
      throw new ConnectorBoundaryError(
        "queryParams must be a plain object, not " + describe(value),
        "queryParams"
      );
    }

    const query = new URLSearchParams();
    for (const key of Object.keys(value)) {
      const entry = value[key];
      if (entry === undefined || entry === null) {
        continue;
      }
      const items = Array.isArray(entry) ? entry : [entry];
      for (const item of items) {
        if (!isQueryValue(item)) {
          throw new ConnectorBoundaryError(
            "queryParams." + key + " must be a string, a finite number, a " +
              "boolean, or an array of them",
            "queryParams." + key
          );
        }
        query.append(key, String(item));
      }
    }
    return query.toString();
  }

  /**
   * @param {unknown} value
   * @returns {boolean}
   */
  function isQueryValue(value) {
    return (
      typeof value === "string" ||
      typeof value === "boolean" ||
      (typeof value === "number" && Number.isFinite(value))
    );
  }

  /**
   * @param {SdkConfig} config
   * @param {unknown} options
   * @returns {CompositeCall}
   */
  function readExecuteOptions(config, options) {
    if (!isPlainObject(options)) {
      throw new ConnectorBoundaryError(
        "execute() takes a plain object of options, not " + describe(options),
        "options"
      );
    }
    // Checked before unknown keys, for the clearer message.
    if (Object.prototype.hasOwnProperty.call(options, "pathParams")) {
      throw new ConnectorBoundaryError(
        "composites take no path parameters; send values in payload or " +
          "queryParams",
        "pathParams"
      );
    }
    refuseUnknownKeys(options, EXECUTE_OPTIONS, "execute()");

    const permalink = checkPermalink(options.permalink);
    const body = encodePayload(options.payload);
    const query = encodeQuery(options.queryParams);
    const timeout =
      options.timeout === undefined
        ? config.timeout
        : checkTimeout(options.timeout, "timeout");

    const url =
      config.baseUrl +
      "/connectors/composite/" +
      encodeURIComponent(permalink) +
      "/execute" +
      (query ? "?" + query : "");
    return { permalink: permalink, url: url, body: body, timeout: timeout };
  }

  /** @returns {string | null} */
  function discoverCsrfToken() {
    const doc = root.document;
    if (!doc) {
      return null;
    }

    const meta = doc.querySelector('meta[name="csrftoken"]');
    const metaToken = meta ? meta.getAttribute("content") : null;
    if (metaToken) {
      return metaToken;
    }
    const input = doc.querySelector('input[name="csrfmiddlewaretoken"]');
    if (input && "value" in input && input.value) {
      return String(input.value);
    }
    return readCookie(doc.cookie || "", CSRF_COOKIE_NAME);
  }

  /**
   * @param {string} cookies
   * @param {string} name
   * @returns {string | null}
   */
  function readCookie(cookies, name) {
    for (const pair of cookies.split(";")) {
      const separator = pair.indexOf("=");
      if (separator === -1 || pair.slice(0, separator).trim() !== name) {
        continue;
      }
      const value = pair.slice(separator + 1).trim();
      try {
        return decodeURIComponent(value) || null;
      } catch (error) {
        return value || null;
      }
    }
    return null;
  }

  /**
   * Without a page origin (outside a browser) every URL counts as
   * same-origin.
   *
   * @param {string} url
   * @returns {boolean}
   */
  function isSameOrigin(url) {
    if (!root.location) {
      return true;
    }
    try {
      return new URL(url, root.location.href).origin === root.location.origin;
    } catch (error) {
      return false;
    }
  }

  /**
   * @param {SdkConfig} config
   * @param {CompositeCall} call
   * @returns {Headers}
   */
  function buildHeaders(config, call) {
    const headers = new Headers({ Accept: "application/json" });
    for (const pair of config.headers) {
      headers.set(pair[0], pair[1]);
    }
    if (call.body !== null) {
      headers.set("Content-Type", "application/json");
    }

    // The token is useless elsewhere (cookies stay home) and must not leak.
    if (isSameOrigin(call.url)) {
      const token = config.csrfToken || discoverCsrfToken();
      if (token) {
        headers.set(CSRF_HEADER, token);
      }
    }
    return headers;
  }

  /**
   * Send the call and read the whole body, both under the call's timeout.
   *
   * @param {SdkConfig} config
   * @param {CompositeCall} call
   * @returns {Promise<{ response: Response, text: string }>}
   */
  async function send(config, call) {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(function () {
      timedOut = true;
      controller.abort();
    }, call.timeout);

    try {
      const response = await root.fetch(call.url, {
        method: "POST",
        headers: buildHeaders(config, call),
        body: call.body,
        credentials: "same-origin",
        signal: controller.signal,
      });
      const text = await response.text();
      return { response: response, text: text };
    } catch (error) {
      if (timedOut) {
        throw withCause(
          "Composite '" + call.permalink + "' timed out after " +
            call.timeout + " ms",
          error
        );
      }
      throw withCause(
        "Network error calling composite '" + call.permalink + "': " +
          messageOf(error),
        error
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * @param {CompositeCall} call
   * @param {Response} response
   * @param {string} text
   * @returns {unknown}
   */
  function readSuccess(call, response, text) {
    if (text.trim() === "") {
      return null;
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw withCause(
        "Composite '" + call.permalink + "' answered " + response.status +
          " with a body that is not JSON (Content-Type: " +
          (response.headers.get("Content-Type") || "none") + ")",
        error
      );
    }
  }

  /**
   * @param {CompositeCall} call
   * @param {Response} response
   * @param {string} text
   * @returns {ConnectorExecuteError}
   */
  function readFailure(call, response, text) {
    const body = parseJsonOrNull(text);
    const errors = isPlainObject(body) && body.success === false
      ? body.errors
      : null;
    const headerRequestId = response.headers.get(REQUEST_ID_HEADER) || null;

    /** @type {ExecuteErrorInit} */
    let init;
    if (isPlainObject(errors) && typeof errors.code === "string") {
      const requestId = isPlainObject(body) ? body.request_id : null;
      init = {
        status: response.status,
        code: errors.code,
        detail: typeof errors.detail === "string" ? errors.detail : "",
        scope: typeof errors.scope === "string" ? errors.scope : null,
        requestId:
          typeof requestId === "string" && requestId
            ? requestId
            : headerRequestId,
      };
    } else {
      const detail = isPlainObject(body) ? body.detail : null;
      init = {
        status: response.status,
        code: "HTTP_ERROR",
        detail:
          typeof detail === "string" && detail
            ? detail
            : response.statusText || "HTTP " + response.status,
        scope: null,
        requestId: headerRequestId,
      };
    }

    return new ConnectorExecuteError(
      "Composite '" + call.permalink + "' failed with " + init.status + " " +
        init.code + (init.detail ? ": " + init.detail : ""),
      init
    );
  }

  /**
   * @param {string} text
   * @returns {unknown}
   */
  function parseJsonOrNull(text) {
    try {
      return JSON.parse(text);
    } catch (error) {
      return null;
    }
  }

  /**
   * @param {SdkConfig} config
   * @param {unknown} options
   * @returns {Promise<any>}
   */
  async function execute(config, options) {
    const call = readExecuteOptions(config, options);
    const result = await send(config, call);

    // A 3xx reaching here was relayed from the last step, not followed.
    if (result.response.status >= 200 && result.response.status < 400) {
      return readSuccess(call, result.response, result.text);
    }
    throw readFailure(call, result.response, result.text);
  }

  class WidgetServiceSDK {
    /** @param {import("./widget-sdk").WidgetServiceSDKOptions} [options] */
    constructor(options) {
      const config = readSdkOptions(options);

      /** @type {CompositeConnector} */
      const composite = Object.freeze({
        execute: function (/** @type {unknown} */ executeOptions) {
          return execute(config, executeOptions);
        },
      });

      this.baseUrl = config.baseUrl;
      this.timeout = config.timeout;
      this.connectors = Object.freeze({ composite: composite });
      Object.freeze(this);
    }
  }

  WidgetServiceSDK.ConnectorExecuteError = ConnectorExecuteError;
  WidgetServiceSDK.ConnectorBoundaryError = ConnectorBoundaryError;

  /**
   * @param {string} message
   * @param {unknown} cause
   * @returns {Error}
   */
  function withCause(message, cause) {
    const error = new Error(message);
    error.cause = cause;
    return error;
  }

  /**
   * @param {unknown} error
   * @returns {string}
   */
  function messageOf(error) {
    return error instanceof Error ? error.message : String(error);
  }

  /**
   * @param {unknown} value
   * @returns {string}
   */
  function describe(value) {
    if (value === null) {
      return "null";
    }
    if (Array.isArray(value)) {
      return "an array";
    }
    return typeof value === "object"
      ? "an object of another kind"
      : "a " + typeof value;
  }

  if (typeof window !== "undefined") {
    window.WidgetServiceSDK = WidgetServiceSDK;
    window.ConnectorExecuteError = ConnectorExecuteError;
    window.ConnectorBoundaryError = ConnectorBoundaryError;
  }
  if (typeof module === "object" && module !== null && module.exports) {
    module.exports = {
      WidgetServiceSDK: WidgetServiceSDK,
      ConnectorExecuteError: ConnectorExecuteError,
      ConnectorBoundaryError: ConnectorBoundaryError,
    };
  }
})(typeof window === "undefined" ? globalThis : window);
