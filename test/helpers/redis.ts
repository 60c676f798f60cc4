// A redis-server of a test's own (stopped, paused and restarted by the test) and a TCP proxy to it that a
// test can cut for one node alone: cluster tests of Redis outages.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";

export const REDIS_SERVER = "/usr/bin/redis-server";
export const hasRedisServer = () => existsSync(REDIS_SERVER);

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A redis-server on a free port (no persistence), that the test can stop and start again on that port. */
export class PrivateRedis {
  private proc?: ChildProcess;
  constructor(readonly port: number) {}
  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }
  static async create(): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort());
    await r.start();
    return r;
  }
  get running() {
    return !!this.proc;
  }
  async start(): Promise<void> {
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
    const proc = spawn(REDIS_SERVER, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.proc = proc;
    await new Promise<void>((resolve, reject) => {
      let out = "";
      proc.stdout!.on("data", (d) => {
        out += d;
        if (out.includes("Ready to accept connections")) resolve();
      });
      proc.once("exit", (code) => {
        if (this.proc === proc) this.proc = undefined;
        reject(new Error(`redis-server exited (${code}): ${out}`));
      });
    });
  }
  /** SIGSTOP: connections stay open but nothing is answered (a hung server); `resume` sends SIGCONT. */
  pause(resume = false): void {
    this.proc?.kill(resume ? "SIGCONT" : "SIGSTOP");
  }
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    this.proc = undefined;
    await new Promise<void>((resolve) => {
      proc.once("exit", () => resolve());
      proc.kill("SIGTERM");
    });
  }
}

/** A TCP proxy to a local port that the test can cut (closing every connection) and restore on the same port. */
export class TcpProxy {
  private server?: net.Server;
  private sockets = new Set<net.Socket>();
  constructor(
    readonly port: number,
    private target: number,
  ) {}
  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }
  static async create(target: number): Promise<TcpProxy> {
    const p = new TcpProxy(await freePort(), target);
    await p.start();
    return p;
  }
  get running() {
    return !!this.server;
  }
  start(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target, "127.0.0.1");
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => {});
      }
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
    this.server = server;
    return new Promise((resolve) => server.listen(this.port, "127.0.0.1", () => resolve()));
  }
  stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
  close(): Promise<void> {
    return this.stop();
  }
}
