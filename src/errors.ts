// Domain errors. They are GraphQL errors (so Yoga does not mask them) whose
// extensions.code maps 1:1 to the REST error body {error, message, status}.
import { GraphQLError } from "graphql";

export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  INTERNAL_ERROR: 500,
  NOT_IMPLEMENTED: 501,
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class DomainError extends GraphQLError {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message, { extensions: { code, status: ERROR_STATUS[code] } });
    this.code = code;
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
export const unavailable = (message: string) => new DomainError("UNAVAILABLE", message);

export function errorBody(code: ErrorCode, message: string) {
  return { error: code, message, status: ERROR_STATUS[code] };
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && code in ERROR_STATUS;
}
