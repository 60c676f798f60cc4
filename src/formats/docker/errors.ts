// OCI distribution-spec error codes and the {errors:[...]} body docker clients understand.
export const OCI_ERRORS = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  TAG_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  RANGE_INVALID: 416,
  UNAVAILABLE: 503,
} as const;

export type OciErrorCode = keyof typeof OCI_ERRORS;

export class OciError extends Error {
  readonly status: number;
  constructor(
    readonly code: OciErrorCode,
    message: string,
    readonly detail?: unknown,
    status?: number,
  ) {
    super(message);
    this.status = status ?? OCI_ERRORS[code];
  }
  body() {
    return { errors: [{ code: this.code, message: this.message, detail: this.detail ?? null }] };
  }
}

export const ociError = (code: OciErrorCode, message: string, detail?: unknown, status?: number) => new OciError(code, message, detail, status);
