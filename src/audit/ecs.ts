// One audit event as an Elastic Common Schema (ECS) document, the shape log shippers index as-is.
export interface EcsAuditFields {
  at: Date;
  action: string;
  category: string;
  outcome: string;
  errorCode: string | null;
  user: string | null;
  sourceIp: string;
  target: string;
  details: Record<string, unknown>;
  urlPath?: string;
  message: string;
}

export const ECS_VERSION = "8.11.0";

export function ecsLine(e: EcsAuditFields): Record<string, unknown> {
  return {
    "@timestamp": e.at.toISOString(),
    "log.level": "info",
    log: { logger: "audit" },
    ecs: { version: ECS_VERSION },
    event: { kind: "event", action: e.action, category: [e.category], outcome: e.outcome },
    ...(e.errorCode ? { error: { code: e.errorCode } } : {}),
    ...(e.user ? { user: { name: e.user } } : {}),
    ...(e.sourceIp ? { source: { ip: e.sourceIp } } : {}),
    ...(e.urlPath ? { url: { path: e.urlPath } } : {}),
    pantera: { audit: { target: e.target, details: e.details } },
    message: e.message,
  };
}
