// Fixtures shared by the validation tests.
import { expect } from 'chai';
import type { FieldError } from '../../../../src/policy/validation/index.js';

// A real CA certificate's PEM, base64-encoded (the samples' example CA).
export const CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBdzCCAR2gAwIBAgIUEXAMPLEEXAMPLEEXAMPLEEXAMPLEwCgYIKoZIzj0EAwIw
-----END CERTIFICATE-----
`;
export const CA_B64 = Buffer.from(CA_PEM).toString('base64');

/** Asserts that `errors` names `field`, with a message containing each of `says` (so it says what to fix). */
export function expectError(errors: FieldError[], field: string, says: readonly string[]): void {
  const hit = errors.find((e) => e.field === field);
  expect(hit, `errors: ${JSON.stringify(errors)}`).to.not.equal(undefined);
  for (const s of says) expect(hit!.message).to.contain(s);
}
