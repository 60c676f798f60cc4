// Runs Verdaccio (the npm-client test upstream and the benchmark baseline) through its
// programmatic API: its CLI refuses Node < 22, the server itself runs on Node 20.
//   node bench/npm-verdaccio-server.mjs <config.yaml> <port>
import { runServer } from "verdaccio";

const [config, port] = process.argv.slice(2);
const server = await runServer(config);
server.listen(Number(port), "127.0.0.1", () => process.stdout.write(`verdaccio listening on ${port}\n`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
