// Settings (REST section 11) and auth provider toggle/config (REST section 12).
import { settingsView, updatePrefixes, updateSection } from "../settings/admin.js";
import { toggleAuthProvider, updateAuthProviderConfig } from "../auth/providers.js";
import { builder } from "./builder.js";
import { caller } from "./caller.js";

builder.queryFields((t) => ({
  settings: t.field({
    type: "JSON",
    description: "Every settings section (ports, version, prefixes, jwt, http, metrics, cooldown, auth providers masked, database, caches)",
    resolve: (_r, _a, ctx) => settingsView(ctx.app, caller(ctx)),
  }),
}));

builder.mutationFields((t) => ({
  updatePrefixes: t.stringList({
    description: "Replace the global URL prefixes of the repository port",
    args: { prefixes: t.arg({ type: "JSON", required: true }) },
    resolve: (_r, a, ctx) => updatePrefixes(ctx.app, caller(ctx), a.prefixes),
  }),
  updateSettingsSection: t.boolean({
    description: "Merge fields into one settings section",
    args: { section: t.arg.string({ required: true }), values: t.arg({ type: "JSON", required: true }) },
    resolve: async (_r, a, ctx) => {
      await updateSection(ctx.app, caller(ctx), a.section, a.values);
      return true;
    },
  }),
  toggleAuthProvider: t.boolean({
    args: { id: t.arg.int({ required: true }), enabled: t.arg.boolean({ required: true }) },
    resolve: async (_r, a, ctx) => {
      await toggleAuthProvider(ctx.app.db.prisma, ctx.app.bus, caller(ctx), a.id, a.enabled);
      return true;
    },
  }),
  updateAuthProviderConfig: t.boolean({
    args: { id: t.arg.int({ required: true }), config: t.arg({ type: "JSON", required: true }) },
    resolve: async (_r, a, ctx) => {
      await updateAuthProviderConfig(ctx.app.db.prisma, ctx.app.bus, caller(ctx), a.id, a.config);
      return true;
    },
  }),
}));
