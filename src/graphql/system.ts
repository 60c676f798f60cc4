// Health and version.
import { builder } from "./builder.js";

builder.queryFields((t) => ({
  health: t.string({ description: "Always 'ok' while the API answers", resolve: () => "ok" }),
  version: t.string({ resolve: (_r, _a, ctx) => ctx.app.config.version }),
}));
