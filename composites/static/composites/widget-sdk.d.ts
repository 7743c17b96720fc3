/**
 * Types for the widget service SDK, `widget-sdk.js` beside this file.
 *
 * The script is a plain browser script with no build step. Loaded with a
 * `<script>` tag it defines `window.WidgetServiceSDK`,
 * `window.ConnectorExecuteError` and `window.ConnectorBoundaryError`. Loaded
 * with CommonJS `require()` it exports the same three names instead. It has no
 * ES module exports: browser code imports from this file with `import type`
 * only and reaches the values through `window`.
 *
 * ```js
 * const sdk = new window.WidgetServiceSDK();
 * const user = await sdk.connectors.composite.execute({
 *   permalink: "auth-and-fetch-user",
 *   payload: { locale: "en" },
 *   queryParams: { page: 2 },
 * });
 * ```
 *
 * A call settles in exactly one of these ways:
 *
 * - resolves with the parsed JSON body of a 2xx or 3xx response (`null` for an
 *   empty body);
 * - rejects with {@link ConnectorExecuteError} for a 4xx or 5xx response;
 * - rejects with {@link ConnectorBoundaryError}, before any request is sent,
 *   for a malformed call;
 * - rejects with a plain `Error` for a network failure, a timeout, or a
 *   successful response whose body is not JSON.
 *
 * @packageDocumentation
 */

/** One value of a query parameter; numbers and booleans are sent as text. */
export type QueryParamValue = string | number | boolean;

/**
 * The query string of a call, as an object.
 *
 * Each key becomes one `key=value` pair, URL-encoded with `URLSearchParams`.
 * An array becomes one pair per item (`{ tag: ["a", "b"] }` gives
 * `tag=a&tag=b`), so an empty array sends nothing. `null` and `undefined`
 * values are left out. Numbers must be finite. Anything else (nested objects,
 * nested arrays) is refused with a {@link ConnectorBoundaryError}.
 */
export type QueryParams = {
  readonly [key: string]:
    | QueryParamValue
    | readonly QueryParamValue[]
    | null
    | undefined;
};

/**
 * The widget's request body: a plain object, sent as JSON.
 *
 * Plain means created by an object literal, `JSON.parse` or
 * `Object.create(null)`. Strings, arrays, `FormData`, `Blob`, class instances
 * and other objects are refused with a {@link ConnectorBoundaryError}, as is an
 * object that `JSON.stringify` cannot encode (a cycle, a `BigInt`).
 *
 * The type is an index signature, so a value typed with an `interface` does
 * not fit it; type such payloads with a `type` alias, or pass a copy
 * (`{ ...value }`).
 */
export type CompositePayload = { readonly [key: string]: unknown };

/** Options of the {@link WidgetServiceSDK} constructor. Unknown keys are refused. */
export interface WidgetServiceSDKOptions {
  /**
   * Where the platform's widget service is mounted.
   *
   * Default: `/widget-service` on the page's origin
   * (`window.location.origin + "/widget-service"`). A relative value is
   * resolved against the page's URL when the SDK is created. Trailing slashes
   * are trimmed. A value with a query string or fragment, an empty string or
   * a non-string is refused.
   */
  baseUrl?: string;

  /**
   * Django's CSRF token, sent as the `X-CSRFToken` header.
   *
   * When absent or `null`, each call looks the token up afresh (Django
   * rotates it at sign-in), in this order: the `content` of a
   * `<meta name="csrftoken">` element, the value of an
   * `<input name="csrfmiddlewaretoken">` element, the `csrftoken` cookie. When
   * none is found the header is not sent, which is fine for anonymous
   * visitors. The header is never sent to another origin than the page's.
   * An empty string or a non-string is refused.
   */
  csrfToken?: string | null;

  /**
   * Extra request headers sent with every call, as header name to string
   * value.
   *
   * They may replace the default `Accept: application/json`. They may not set
   * `Content-Type` or `X-CSRFToken`, which the SDK owns (compared without
   * regard to case): such a name is refused, as is an invalid header name or
   * a value holding a line break or NUL.
   */
  headers?: { readonly [name: string]: string };

  /**
   * Milliseconds a call may take, from sending the request to reading the
   * whole response body; default 30000.
   *
   * Must be a positive finite number no greater than 2147483647 (the longest
   * delay `setTimeout` honours). There is no way to turn the timeout off.
   */
  timeout?: number;
}

/**
 * Options of {@link CompositeConnector.execute}. Unknown keys are refused.
 *
 * Composites take no path parameters: a `pathParams` key, whatever its value,
 * is refused with a {@link ConnectorBoundaryError} whose `field` is
 * `"pathParams"`.
 */
export interface CompositeExecuteOptions {
  /**
   * The composite's permalink, or its numeric id.
   *
   * A non-empty string (URL-encoded with `encodeURIComponent` into the path)
   * or a non-negative safe integer. Anything else is refused.
   */
  permalink: string | number;

  /**
   * The request body, sent as JSON with `Content-Type: application/json`.
   *
   * When absent or `null` the request has no body and no `Content-Type`, so
   * the composite's templates see `request.body_text` as `None`.
   */
  payload?: CompositePayload | null;

  /** The request's query string; see {@link QueryParams}. */
  queryParams?: QueryParams;

  /**
   * This call's timeout in milliseconds, replacing the SDK's; same rules as
   * {@link WidgetServiceSDKOptions.timeout}.
   */
  timeout?: number;
}

/** The composite connector client, `sdk.connectors.composite`. */
export interface CompositeConnector {
  /**
   * Run a composite connector on the platform.
   *
   * Sends `POST <baseUrl>/connectors/composite/<permalink>/execute` with
   * `credentials: "same-origin"`, `Accept: application/json`, the SDK's extra
   * headers, the CSRF header when a token is known and the target is the
   * page's origin, and the payload as JSON.
   *
   * Resolves with the parsed JSON body when the status is 2xx or 3xx (the
   * platform relays the last step's status, and a 3xx is a successful step),
   * or with `null` when that body is empty or only whitespace. The body is
   * parsed whatever its `Content-Type`. `TResult` is not checked at run time.
   *
   * Rejects with:
   *
   * - {@link ConnectorBoundaryError}, and sends nothing, when the options are
   *   malformed;
   * - {@link ConnectorExecuteError} when the status is 4xx or 5xx;
   * - a plain `Error` whose message says the body was not JSON (with the
   *   status and `Content-Type`) when a successful response's body does not
   *   parse; its `cause` is the `SyntaxError`;
   * - a plain `Error` whose message starts
   *   `Network error calling composite '<permalink>':` when the request
   *   cannot be sent or the response cannot be read; its `cause` is the
   *   original error;
   * - a plain `Error` whose message gives the timeout in milliseconds when
   *   the call takes longer than the timeout; the request is aborted and the
   *   `cause` is the abort error.
   *
   * The function does not depend on `this`, so it may be passed around
   * detached from `sdk.connectors.composite`.
   */
  execute<TResult = unknown>(options: CompositeExecuteOptions): Promise<TResult>;
}

/** The error codes the platform sends in its error envelope, and `HTTP_ERROR`. */
export type ConnectorErrorCode =
  | "BAD_REQUEST"
  | "METHOD_NOT_ALLOWED"
  | "NOT_FOUND"
  | "LENGTH_REQUIRED"
  | "PAYLOAD_TOO_LARGE"
  | "AUTHENTICATION_REQUIRED"
  | "PERMISSION_DENIED"
  | "STEP_HTTP_ERROR"
  | "STEP_NETWORK_ERROR"
  | "TEMPLATE_ERROR"
  | "JWT_SIGNING_ERROR"
  | "TOKEN_REQUEST_ERROR"
  | "DESTINATION_NOT_ALLOWED"
  | "NO_STEPS"
  | "UNEXPECTED_ERROR"
  | "HTTP_ERROR"
  // Keeps the union open to codes added later, without losing completion.
  | (string & {});

/** The fields of a {@link ConnectorExecuteError}. */
export interface ConnectorExecuteErrorInit {
  status: number;
  code: ConnectorErrorCode;
  detail: string;
  scope: string | null;
  requestId: string | null;
}

/**
 * A call reached the platform and got a 4xx or 5xx response.
 *
 * When the body is the platform's error envelope,
 * `{"success": false, "errors": {"code", "detail", "scope"}, "request_id"}`,
 * the fields come from it (a missing or wrong CSRF token is the envelope's
 * `"PERMISSION_DENIED"`). Otherwise (a proxy's error page, a host name Django
 * refuses) `code` is `"HTTP_ERROR"`, `detail` is the body's `detail` string
 * when the body is a JSON object that has one, else the status text, else
 * `"HTTP <status>"`, and `scope` is `null`.
 */
export declare class ConnectorExecuteError extends Error {
  constructor(message: string, init: ConnectorExecuteErrorInit);
  readonly name: "ConnectorExecuteError";
  /** The HTTP status of the response. */
  readonly status: number;
  /** The envelope's `errors.code`, or `"HTTP_ERROR"`. */
  readonly code: ConnectorErrorCode;
  /** What went wrong, in words a widget developer can act on. */
  readonly detail: string;
  /** Which part failed, such as `Composite step 'fetch-user' (index 1): ...`. */
  readonly scope: string | null;
  /**
   * The envelope's `request_id`, else the `X-Request-ID` response header,
   * else `null`; quote it when reporting a problem.
   */
  readonly requestId: string | null;
}

/**
 * A call or an SDK was set up wrongly; no request was sent.
 *
 * Thrown synchronously by the {@link WidgetServiceSDK} constructor; the
 * promise of {@link CompositeConnector.execute} rejects with it.
 */
export declare class ConnectorBoundaryError extends Error {
  constructor(message: string, field: string);
  readonly name: "ConnectorBoundaryError";
  /**
   * The offending option, such as `"permalink"`, `"payload"`,
   * `"pathParams"`, `"timeout"`, `"queryParams.page"` or `"headers.Accept"`;
   * `"options"` when the options argument itself is not a plain object.
   */
  readonly field: string;
}

/**
 * The SDK: one per page is enough.
 *
 * @throws {@link ConnectorBoundaryError} when an option is malformed.
 */
export declare class WidgetServiceSDK {
  constructor(options?: WidgetServiceSDKOptions);
  /** The resolved base URL, without a trailing slash. */
  readonly baseUrl: string;
  /** The default timeout of a call, in milliseconds. */
  readonly timeout: number;
  readonly connectors: { readonly composite: CompositeConnector };
  static readonly ConnectorExecuteError: typeof ConnectorExecuteError;
  static readonly ConnectorBoundaryError: typeof ConnectorBoundaryError;
}

type WidgetServiceSDKClass = typeof WidgetServiceSDK;
type ConnectorExecuteErrorClass = typeof ConnectorExecuteError;
type ConnectorBoundaryErrorClass = typeof ConnectorBoundaryError;

declare global {
  interface Window {
    WidgetServiceSDK: WidgetServiceSDKClass;
    ConnectorExecuteError: ConnectorExecuteErrorClass;
    ConnectorBoundaryError: ConnectorBoundaryErrorClass;
  }

  // The same values by their bare names, as classic scripts use them.
  var WidgetServiceSDK: WidgetServiceSDKClass;
  var ConnectorExecuteError: ConnectorExecuteErrorClass;
  var ConnectorBoundaryError: ConnectorBoundaryErrorClass;
}
