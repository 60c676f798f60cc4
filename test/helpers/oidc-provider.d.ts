// oidc-provider 8 ships no types (and @types/oidc-provider tracks 9); the test OP uses it untyped.
declare module "oidc-provider";
