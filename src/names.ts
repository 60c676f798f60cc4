// Name rules for users and roles (repository names have their own, stricter rules).
import { badRequest } from "./errors.js";

const PRINCIPAL_NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;

export function validatePrincipalName(kind: "User" | "Role", name: string): string {
  if (!PRINCIPAL_NAME.test(name)) {
    throw badRequest(`${kind} name '${name}' is invalid: use 1-128 letters, digits, '.', '_', '@', '+' or '-', starting with a letter or digit`);
  }
  return name;
}
