// Minimal leveled logger writing one JSON line per event to stderr (audit documents go to stdout).
export type Level = "debug" | "info" | "warn" | "error";
const order = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;

export interface Logger {
  debug(msg: string, extra?: Record<string, unknown>): void;
  info(msg: string, extra?: Record<string, unknown>): void;
  warn(msg: string, extra?: Record<string, unknown>): void;
  error(msg: string, extra?: Record<string, unknown>): void;
  /** One audit trail document (src/audit), to stdout: its own stream, apart from the diagnostics on stderr. */
  audit?(record: Record<string, unknown>): void;
}

export function createLogger(level: keyof typeof order = "info"): Logger {
  const min = order[level] ?? order.info;
  const write = (lvl: Level) => (msg: string, extra?: Record<string, unknown>) => {
    if (order[lvl] < min) return;
    process.stderr.write(JSON.stringify({ t: new Date().toISOString(), level: lvl, msg, ...extra }) + "\n");
  };
  const audit = (record: Record<string, unknown>) => {
    if (level !== "silent") process.stdout.write(JSON.stringify(record) + "\n");
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error"), audit };
}
