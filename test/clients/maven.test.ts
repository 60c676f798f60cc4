// Real Maven client against a maven group of hosted + two proxies. The first proxy's upstream is a
// static HTTP server over ~/.m2/repository (plus an overlay with one extra artifact version), the
// second's over Debian's packaged Maven repository (/usr/share/maven-repo), so a fresh local
// repository resolves the Maven plugins themselves, and their dependencies, through Pantera.
// ~/.m2 holds maven-dependency-plugin 3.8.1 but not all of its dependencies: the one it lacks,
// commons-beanutils 1.9.4 (with commons-logging and commons-collections 3.2.2 under Debian's
// "debian"/"3.x" versions), comes from the Debian package libcommons-beanutils-java (.ci/run).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { ADMIN_PASSWORD, listenLocal, startServer, type TestServer } from "../helpers/server.js";

const M2 = path.join(os.homedir(), ".m2", "repository");
const DEBIAN_REPO = "/usr/share/maven-repo";
const DEPLOY = "org.apache.maven.plugins:maven-deploy-plugin:3.1.1:deploy-file";
const GET = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get";
const DEP_PLUGIN_JAR = "org/apache/maven/plugins/maven-dependency-plugin/3.8.1/maven-dependency-plugin-3.8.1.jar";
const BEANUTILS_JAR = "commons-beanutils/commons-beanutils/1.9.4/commons-beanutils-1.9.4.jar";
const haveMaven = existsSync("/usr/bin/mvn") && existsSync(path.join(M2, "org/apache/maven/plugins/maven-deploy-plugin/3.1.1"));
const haveDependencyPlugin = existsSync(path.join(M2, DEP_PLUGIN_JAR)) && existsSync(path.join(DEBIAN_REPO, BEANUTILS_JAR));

/** Static file server over several roots (first hit wins), like a plain remote repository. */
function staticServer(roots: string[]): Promise<{ url: string; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).replace(/^\/+/, "");
    hits.push(rel);
    if (rel.includes("..") || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(rel.includes("..") ? 400 : 405).end();
      return;
    }
    for (const root of roots) {
      const file = path.join(root, rel);
      const st = existsSync(file) ? statSync(file) : null;
      if (st?.isFile()) {
        res.writeHead(200, { "content-length": st.size, "last-modified": st.mtime.toUTCString() });
        if (req.method === "HEAD") res.end();
        else createReadStream(file).pipe(res);
        return;
      }
    }
    res.writeHead(404).end();
  });
  return listenLocal(server).then((l) => ({ ...l, hits }));
}

function mvn(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn("mvn", ["-B", "-ntp", ...args], { cwd, env: { ...process.env, MAVEN_OPTS: "-Xmx256m" } });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("close", (code) => resolve({ code: code ?? -1, out }));
  });
}

describe(
  "maven client: deploy-file, dependency:get and compile through a group of hosted + two proxies (~/.m2, Debian)",
  { skip: !haveMaven && "mvn or ~/.m2 plugins missing" },
  () => {
    let s: TestServer;
    let upstream: Awaited<ReturnType<typeof staticServer>>;
    let debianUpstream: Awaited<ReturnType<typeof staticServer>>;
    let work: string;
    let settings: string;
    let localRepo: string;

    before(async () => {
      work = mkdtempSync(path.join(os.tmpdir(), "pantera-mvn-"));
      // Overlay: an older version of com.example:lib that only the upstream has.
      const overlay = path.join(work, "overlay");
      mkdirSync(path.join(overlay, "com/example/lib/0.9"), { recursive: true });
      writeFileSync(path.join(overlay, "com/example/lib/0.9/lib-0.9.jar"), "old jar bytes");
      writeFileSync(
        path.join(overlay, "com/example/lib/0.9/lib-0.9.pom"),
        `<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>lib</artifactId><version>0.9</version></project>`,
      );
      writeFileSync(
        path.join(overlay, "com/example/lib/maven-metadata.xml"),
        `<?xml version="1.0" encoding="UTF-8"?><metadata><groupId>com.example</groupId><artifactId>lib</artifactId><versioning><latest>0.9</latest><release>0.9</release><versions><version>0.9</version></versions><lastUpdated>20200101000000</lastUpdated></versioning></metadata>`,
      );
      upstream = await staticServer([overlay, M2]);
      debianUpstream = await staticServer([DEBIAN_REPO]);
      s = await startServer();
      const admin = await s.services.auth.authenticateToken(s.adminToken);
      await s.services.repositories.put(admin, "releases", { type: "maven", storage: "default" });
      await s.services.repositories.put(admin, "central", { type: "maven-proxy", storage: "default", remotes: [{ url: upstream.url }] });
      await s.services.repositories.put(admin, "debian", { type: "maven-proxy", storage: "default", remotes: [{ url: debianUpstream.url }] });
      await s.services.repositories.put(admin, "public", { type: "maven-group", storage: "default", members: ["releases", "central", "debian"] });
      localRepo = path.join(work, "m2");
      settings = path.join(work, "settings.xml");
      writeFileSync(
        settings,
        `<settings>
  <localRepository>${localRepo}</localRepository>
  <servers><server><id>pantera</id><username>admin</username><password>${ADMIN_PASSWORD}</password></server></servers>
  <mirrors><mirror><id>pantera</id><mirrorOf>*</mirrorOf><url>${s.repoUrl}/public</url></mirror></mirrors>
  <profiles><profile><id>snapshots</id>
    <repositories><repository><id>central</id><url>http://central</url><releases><enabled>true</enabled></releases><snapshots><enabled>true</enabled></snapshots></repository></repositories>
  </profile></profiles>
  <activeProfiles><activeProfile>snapshots</activeProfile></activeProfiles>
</settings>`,
      );
      writeFileSync(path.join(work, "lib.jar"), "release jar bytes " + Date.now());
    });
    after(async () => {
      await s?.close();
      await upstream?.close();
      await debianUpstream?.close();
      rmSync(work, { recursive: true, force: true });
    });

    const get = (p: string) => s.repo("GET", p, { basic: ["admin", ADMIN_PASSWORD] });
    const deploy = (version: string, file: string) =>
      mvn(
        [
          "-s",
          settings,
          DEPLOY,
          `-Dfile=${file}`,
          "-DgroupId=com.example",
          "-DartifactId=lib",
          `-Dversion=${version}`,
          "-Dpackaging=jar",
          "-DgeneratePom=true",
          `-Durl=${s.repoUrl}/releases`,
          "-DrepositoryId=pantera",
        ],
        work,
      );

    it("mvn deploy:deploy-file uploads a release: files, server-side checksums and maven-metadata.xml", async () => {
      const r = await deploy("1.0", "lib.jar");
      assert.equal(r.code, 0, r.out.slice(-4000));
      // mvn uploads .sha1/.md5 after each file; the server verifies them (a rejected one is only a warning to mvn).
      assert.doesNotMatch(r.out, /checksum/i, r.out.slice(-4000));
      // The plugins were resolved through Pantera's proxy, from the static upstream.
      assert.ok(upstream.hits.some((h) => h.startsWith("org/apache/maven/plugins/maven-deploy-plugin/3.1.1/")));
      const jar = await get("/releases/com/example/lib/1.0/lib-1.0.jar");
      assert.equal(jar.status, 200);
      assert.equal(jar.text, readFileSync(path.join(work, "lib.jar"), "utf8"));
      const { createHash } = await import("node:crypto");
      for (const alg of ["md5", "sha1", "sha256", "sha512"]) {
        const sum = await get(`/releases/com/example/lib/1.0/lib-1.0.jar.${alg}`);
        assert.equal(sum.status, 200, alg);
        assert.equal(sum.text.trim(), createHash(alg).update(jar.text).digest("hex"), alg);
      }
      const meta = await get("/releases/com/example/lib/maven-metadata.xml");
      assert.equal(meta.status, 200);
      assert.match(meta.text, /<version>1\.0<\/version>/);
      assert.match(meta.text, /<release>1\.0<\/release>/);
      const metaSha1 = await get("/releases/com/example/lib/maven-metadata.xml.sha1");
      assert.equal(metaSha1.text, createHash("sha1").update(meta.text).digest("hex"));
      // Indexed for search/dashboard/cooldown.
      const row = await s.services.artifacts.find("releases", "com/example/lib/1.0/lib-1.0.jar");
      assert.equal(row?.name, "com.example:lib");
      assert.equal(row?.version, "1.0");
      assert.equal(row?.owner, "admin");
    });

    it("SNAPSHOT deploys get timestamped files and version-level metadata with increasing build numbers", async () => {
      for (let i = 1; i <= 2; i++) {
        writeFileSync(path.join(work, "snap.jar"), `snapshot jar bytes ${i}`);
        const r = await deploy("1.1-SNAPSHOT", "snap.jar");
        assert.equal(r.code, 0, r.out.slice(-4000));
      }
      const meta = await get("/releases/com/example/lib/1.1-SNAPSHOT/maven-metadata.xml");
      assert.equal(meta.status, 200);
      assert.match(meta.text, /<buildNumber>2<\/buildNumber>/);
      const value = /<extension>jar<\/extension>\s*<value>([^<]+)<\/value>/.exec(meta.text)?.[1];
      assert.match(value ?? "", /^1\.1-\d{8}\.\d{6}-2$/);
      const jar = await get(`/releases/com/example/lib/1.1-SNAPSHOT/lib-${value}.jar`);
      assert.equal(jar.status, 200);
      assert.equal(jar.text, "snapshot jar bytes 2");
      const top = await get("/releases/com/example/lib/maven-metadata.xml");
      assert.match(top.text, /<latest>1\.1-SNAPSHOT<\/latest>/);
      assert.match(top.text, /<release>1\.0<\/release>/);
    });

    it("the group merges maven-metadata.xml across members (union of versions, latest/release recomputed)", async () => {
      const meta = await get("/public/com/example/lib/maven-metadata.xml");
      assert.equal(meta.status, 200);
      for (const v of ["0.9", "1.0", "1.1-SNAPSHOT"]) assert.match(meta.text, new RegExp(`<version>${v.replace(/\./g, "\\.")}</version>`));
      assert.match(meta.text, /<latest>1\.1-SNAPSHOT<\/latest>/);
      assert.match(meta.text, /<release>1\.0<\/release>/);
    });

    it("mvn resolves hosted, SNAPSHOT and proxied artifacts through the group into a fresh local repository", async () => {
      rmSync(localRepo, { recursive: true, force: true });
      const proj = path.join(work, "consumer");
      mkdirSync(proj, { recursive: true });
      const dep = (v: string) => `<dependency><groupId>com.example</groupId><artifactId>lib</artifactId><version>${v}</version></dependency>`;
      const plugin = (a: string, v: string) =>
        `<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>${a}</artifactId><version>${v}</version></plugin>`;
      for (const v of ["1.0", "1.1-SNAPSHOT", "0.9"]) {
        writeFileSync(
          path.join(proj, "pom.xml"),
          `<project><modelVersion>4.0.0</modelVersion><groupId>t</groupId><artifactId>consumer</artifactId><version>1</version>
<properties><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
<dependencies>${dep(v)}</dependencies>
<build><plugins>${plugin("maven-resources-plugin", "3.3.1")}${plugin("maven-compiler-plugin", "3.13.0")}</plugins></build></project>`,
        );
        const r = await mvn(["-s", settings, "compile"], proj);
        assert.equal(r.code, 0, r.out.slice(-4000));
        const dir = path.join(localRepo, "com/example/lib", v);
        assert.ok(
          readdirSync(dir).some((f) => f.endsWith(".jar")),
          `jar of ${v} in ${readdirSync(dir).join(",")}`,
        );
      }
      assert.equal(readFileSync(path.join(localRepo, "com/example/lib/1.0/lib-1.0.jar"), "utf8"), readFileSync(path.join(work, "lib.jar"), "utf8"));
      assert.equal(readFileSync(path.join(localRepo, "com/example/lib/1.1-SNAPSHOT/lib-1.1-SNAPSHOT.jar"), "utf8"), "snapshot jar bytes 2");
      assert.equal(readFileSync(path.join(localRepo, "com/example/lib/0.9/lib-0.9.jar"), "utf8"), "old jar bytes");
      // The proxied jar is cached and indexed with the upstream's date.
      const row = await s.services.artifacts.find("central", "com/example/lib/0.9/lib-0.9.jar");
      assert.ok(row?.releasedAt instanceof Date);
    });

    it("a folder listing through the group is the union of its members (hosted versions and the proxy's cached one)", async () => {
      const res = await get("/public/com/example/lib/");
      assert.equal(res.status, 200);
      for (const v of ["0.9", "1.0", "1.1-SNAPSHOT"]) assert.match(res.text, new RegExp(`>${v.replace(/\./g, "\\.")}/</a>`), `${v} listed`);
      assert.equal((res.text.match(/>maven-metadata\.xml</g) ?? []).length, 1, "a name held by several members is listed once");
      assert.equal((await get("/public/com/example/nothing-here/")).status, 404);
    });

    it(
      "mvn dependency:get resolves the deployed release, the newest SNAPSHOT and a proxied version into a fresh local repository, the plugin and its dependencies through the proxies",
      {
        skip:
          !haveDependencyPlugin &&
          process.env.REQUIRE_SERVICES !== "1" &&
          `maven-dependency-plugin 3.8.1 in ~/.m2 or ${BEANUTILS_JAR} (libcommons-beanutils-java) missing`,
      },
      async () => {
        const fresh = path.join(work, "fresh-m2");
        rmSync(fresh, { recursive: true, force: true });
        const depGet = (artifact: string) => mvn(["-s", settings, `-Dmaven.repo.local=${fresh}`, GET, `-Dartifact=${artifact}`], work);
        const sha1 = async (file: string) => (await import("node:crypto")).createHash("sha1").update(readFileSync(file)).digest("hex");

        const release = await depGet("com.example:lib:1.0");
        assert.equal(release.code, 0, release.out.slice(-4000));
        // Pantera serves a checksum for every proxied file (the static upstreams have none), so mvn validates them all.
        assert.doesNotMatch(release.out, /checksum|integrity/i, release.out.slice(-4000));
        assert.equal(readFileSync(path.join(fresh, "com/example/lib/1.0/lib-1.0.jar"), "utf8"), readFileSync(path.join(work, "lib.jar"), "utf8"));
        // The local repository was empty: the plugin came from ~/.m2 and its missing dependency from
        // Debian's repository, both through Pantera's proxies (mirrorOf *), and both are cached there.
        assert.equal(await sha1(path.join(fresh, DEP_PLUGIN_JAR)), await sha1(path.join(M2, DEP_PLUGIN_JAR)));
        assert.equal(await sha1(path.join(fresh, BEANUTILS_JAR)), await sha1(path.join(DEBIAN_REPO, BEANUTILS_JAR)));
        assert.ok(upstream.hits.includes(DEP_PLUGIN_JAR));
        assert.ok(debianUpstream.hits.includes(BEANUTILS_JAR));
        assert.ok(await s.services.artifacts.find("central", DEP_PLUGIN_JAR), "plugin jar cached by the ~/.m2 proxy");
        assert.ok(await s.services.artifacts.find("debian", BEANUTILS_JAR), "beanutils jar cached by the Debian proxy");
        assert.equal((await get(`/central/${DEP_PLUGIN_JAR}.sha1`)).text, await sha1(path.join(M2, DEP_PLUGIN_JAR)));
        assert.equal((await get(`/debian/${BEANUTILS_JAR}.sha1`)).text, await sha1(path.join(DEBIAN_REPO, BEANUTILS_JAR)));
        // Debian's poms refer to versions named "debian" and "3.x"; those resolve through the proxy too.
        assert.ok(existsSync(path.join(fresh, "commons-logging/commons-logging/debian/commons-logging-debian.jar")));

        const snapshot = await depGet("com.example:lib:1.1-SNAPSHOT");
        assert.equal(snapshot.code, 0, snapshot.out.slice(-4000));
        assert.equal(readFileSync(path.join(fresh, "com/example/lib/1.1-SNAPSHOT/lib-1.1-SNAPSHOT.jar"), "utf8"), "snapshot jar bytes 2");

        const proxied = await depGet("com.example:lib:0.9");
        assert.equal(proxied.code, 0, proxied.out.slice(-4000));
        assert.equal(readFileSync(path.join(fresh, "com/example/lib/0.9/lib-0.9.jar"), "utf8"), "old jar bytes");
      },
    );

    it("anonymous reads and deploys get a 401 with a Basic challenge; wrong passwords too", async () => {
      const anon = await s.repo("GET", "/releases/com/example/lib/1.0/lib-1.0.jar");
      assert.equal(anon.status, 401);
      assert.equal(anon.headers.get("www-authenticate"), 'Basic realm="pantera"');
      const put = await s.repo("PUT", "/releases/com/example/x/1/x-1.jar", { raw: "x" });
      assert.equal(put.status, 401);
      const bad = await s.repo("GET", "/releases/com/example/lib/1.0/lib-1.0.jar", { basic: ["admin", "nope"] });
      assert.equal(bad.status, 401);
      const token = await s.repo("GET", "/releases/com/example/lib/1.0/lib-1.0.jar", { basic: ["admin", s.adminToken] });
      assert.equal(token.status, 200);
      const bearer = await s.repo("GET", "/releases/com/example/lib/1.0/lib-1.0.jar", { token: s.adminToken });
      assert.equal(bearer.status, 200);
    });
  },
);
