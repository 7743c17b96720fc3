// Compiled by `npm run typecheck`, never run. Each `@ts-expect-error` line is
// a misuse the declarations must refuse: the build fails if one compiles.
import type {
  CompositeExecuteOptions,
  CompositePayload,
  ConnectorErrorCode,
  QueryParams,
  WidgetServiceSDKOptions,
} from "../../composites/static/composites/widget-sdk";

type User = { id: number; email: string };

async function correctUse(): Promise<void> {
  const options: WidgetServiceSDKOptions = {
    baseUrl: "https://community.example/widget-service",
    csrfToken: null,
    headers: { "X-Widget": "weather" },
    timeout: 5000,
  };
  const sdk = new window.WidgetServiceSDK(options);
  const fromBareName = new WidgetServiceSDK();
  const baseUrl: string = fromBareName.baseUrl;
  const timeout: number = sdk.timeout;

  const user = await sdk.connectors.composite.execute<User>({
    permalink: "auth-and-fetch-user",
    payload: { locale: "en", nested: { ok: [1, 2] } },
    queryParams: { page: 2, tag: ["a", "b"], draft: false, skipped: undefined },
    timeout: 1000,
  });
  const email: string = user.email;

  const { execute } = sdk.connectors.composite;
  const unknownResult: unknown = await execute({ permalink: 42, payload: null });

  const payload: CompositePayload = { a: 1 };
  const query: QueryParams = { q: "x" };
  const call: CompositeExecuteOptions = { permalink: "p", payload, queryParams: query };
  await execute(call);

  void [baseUrl, timeout, email, unknownResult];
}

function errorHandling(error: unknown): string {
  if (error instanceof window.ConnectorExecuteError) {
    const status: number = error.status;
    const code: ConnectorErrorCode = error.code;
    const scope: string | null = error.scope;
    const requestId: string | null = error.requestId;
    const name: "ConnectorExecuteError" = error.name;
    return [status, code, error.detail, scope, requestId, name].join(" ");
  }
  if (error instanceof WidgetServiceSDK.ConnectorBoundaryError) {
    const field: string = error.field;
    return field;
  }
  if (error instanceof ConnectorBoundaryError) {
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

async function misuse(): Promise<void> {
  const sdk = new window.WidgetServiceSDK();
  const execute = sdk.connectors.composite.execute;

  // @ts-expect-error a string payload is refused: payloads are plain objects
  await execute({ permalink: "p", payload: '{"a": 1}' });
  // @ts-expect-error an array payload is refused
  await execute({ permalink: "p", payload: [1, 2] });
  // @ts-expect-error composites take no path parameters
  await execute({ permalink: "p", pathParams: { id: 1 } });
  // @ts-expect-error the permalink is required
  await execute({ payload: {} });
  // @ts-expect-error a permalink is a string or a number
  await execute({ permalink: true });
  // @ts-expect-error query values are strings, numbers or booleans
  await execute({ permalink: "p", queryParams: { filter: { nested: 1 } } });
  // @ts-expect-error an unknown option is refused
  await execute({ permalink: "p", body: {} });
  // @ts-expect-error header values are strings
  new window.WidgetServiceSDK({ headers: { "X-Count": 1 } });
  // @ts-expect-error the timeout is a number of milliseconds
  new window.WidgetServiceSDK({ timeout: "30s" });
  // @ts-expect-error the SDK's properties are read-only
  sdk.timeout = 1;
  // @ts-expect-error the connectors are read-only
  sdk.connectors.composite = { execute };
}

void [correctUse, errorHandling, misuse];
