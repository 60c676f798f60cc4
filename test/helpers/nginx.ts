// A private nginx (its own prefix, config, pid and logs in `dir`, in the foreground) for tests and benches.
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/** Starts nginx with `http` as the body of its http block; temp files and logs stay under `dir`. */
export function startNginx(dir: string, http: string): ChildProcess {
  mkdirSync(path.join(dir, "logs"), { recursive: true });
  chmodSync(dir, 0o755); // the workers run as an unprivileged user and write temp files here
  const conf = path.join(dir, "nginx.conf");
  writeFileSync(
    conf,
    `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 1024; }
http {
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${http}
}
`,
  );
  return spawn("nginx", ["-p", dir, "-c", conf], { stdio: ["ignore", "inherit", "inherit"] });
}

/** Resolves once `url` answers at all (any status); throws after 10 s. */
export async function waitForHttp(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} never answered`);
}
