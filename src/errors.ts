// Domain errors. They are GraphQL errors (so Yoga does not mask them) whose
// extensions.code maps 1:1 to the REST error body {error, message, status}.
import { GraphQLError } from "graphql";

export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  TOO_MANY_REQUESTS: 429,
  INTERNAL_ERROR: 500,
  NOT_IMPLEMENTED: 501,
  BAD_GATEWAY: 502,
  UNAVAILABLE: 503,
  GATEWAY_TIMEOUT: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface DomainErrorOptions {
  /** Seconds a client should wait before retrying (429, 503): sent as Retry-After. */
  retryAfter?: number;
}

export class DomainError extends GraphQLError {
  readonly code: ErrorCode;
  readonly retryAfter?: number;
  constructor(code: ErrorCode, message: string, opts: DomainErrorOptions = {}) {
    const retryAfter = opts.retryAfter === undefined ? undefined : Math.max(1, Math.ceil(opts.retryAfter));
    super(message, { extensions: { code, status: ERROR_STATUS[code], ...(retryAfter !== undefined ? { retryAfter } : {}) } });
    this.code = code;
    this.retryAfter = retryAfter;
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export const badRequest = (message: string) => new DomainError("BAD_REQUEST", message);
export const unauthorized = (message = "Authentication required") => new DomainError("UNAUTHORIZED", message);
export const forbidden = (message: string) => new DomainError("FORBIDDEN", message);
export const notFound = (message: string) => new DomainError("NOT_FOUND", message);
export const conflict = (message: string) => new DomainError("CONFLICT", message);
export const methodNotAllowed = (message: string) => new DomainError("METHOD_NOT_ALLOWED", message);
export const unavailable = (message: string, retryAfter?: number) => new DomainError("UNAVAILABLE", message, { retryAfter });
export const payloadTooLarge = (message: string) => new DomainError("PAYLOAD_TOO_LARGE", message);
export const uriTooLong = (message: string) => new DomainError("URI_TOO_LONG", message);
export const tooManyRequests = (message: string, retryAfter: number) => new DomainError("TOO_MANY_REQUESTS", message, { retryAfter });

export function errorBody(code: ErrorCode, message: string) {
  return { error: code, message, status: ERROR_STATUS[code] };
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && code in ERROR_STATUS;
}
