// A small typed fetch client. Every server error has the shape
// {"error": {"code", "message", "details"}} and becomes an ApiError.

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;

  constructor(status: number, code: string, message: string, details: unknown = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Raised when the request never got an HTTP answer. */
export const NETWORK_ERROR = "network_error";

type Method = "GET" | "POST" | "PATCH" | "PUT" | "DELETE";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === "") return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function toApiError(response: Response, body: unknown): ApiError {
  if (isRecord(body) && isRecord(body.error)) {
    const { code, message, details } = body.error;
    return new ApiError(
      response.status,
      typeof code === "string" ? code : "unknown",
      typeof message === "string" ? message : response.statusText,
      details ?? null,
    );
  }
  return new ApiError(
    response.status,
    "unknown",
    `The server answered ${response.status} ${response.statusText}`.trim(),
  );
}

export async function request<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const init: RequestInit = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, NETWORK_ERROR, "Cannot reach the server. Check your connection.");
  }
  const data = await readJson(response);
  if (!response.ok) throw toApiError(response, data);
  return data as T;
}

export const api = {
  get: <T>(path: string) => request<T>("GET", path),
  post: <T>(path: string, body?: unknown) => request<T>("POST", path, body),
  patch: <T>(path: string, body: unknown) => request<T>("PATCH", path, body),
  put: <T>(path: string, body: unknown) => request<T>("PUT", path, body),
  delete: <T>(path: string) => request<T>("DELETE", path),
};

export interface FieldError {
  field: string;
  message: string;
}

/** Pydantic prefixes a validator's own message with "Value error, ". */
function readable(message: string): string {
  const text = message.replace(/^Value error, /, "");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Validation problems from an error's `details`, by field. Accepts the server's
 * `[{field, message}]`, raw pydantic `[{loc, msg}]`, and `{field: message}`.
 */
export function fieldErrors(error: unknown): FieldError[] {
  if (!(error instanceof ApiError)) return [];
  const { details } = error;
  if (Array.isArray(details)) {
    return details.flatMap((item): FieldError[] => {
      if (!isRecord(item)) return [];
      if (typeof item.field === "string" && typeof item.message === "string") {
        return [{ field: item.field, message: readable(item.message) }];
      }
      if (Array.isArray(item.loc) && typeof item.msg === "string") {
        const loc = item.loc.filter(
          (part): part is string | number =>
            (typeof part === "string" || typeof part === "number") &&
            !["body", "query", "path"].includes(String(part)),
        );
        return [{ field: loc.join("."), message: readable(item.msg) }];
      }
      return [];
    });
  }
  // A plain {field: message} map is only read as validation errors on a 422, so
  // facts like {"retry_after": 30} on other errors are not mistaken for fields.
  if (isRecord(details) && error.status === 422) {
    return Object.entries(details).flatMap(([field, value]): FieldError[] => {
      if (typeof value === "string") return [{ field, message: value }];
      if (Array.isArray(value)) {
        return value
          .filter((v): v is string => typeof v === "string")
          .map((message) => ({ field, message }));
      }
      return [];
    });
  }
  return [];
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return "Something went wrong.";
}
