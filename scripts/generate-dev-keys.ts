/**
 * Writes a fresh development signing key (config/dev/signing-key.json, private) and the matching
 * JWKS (config/dev/jwks.json) that the service trusts by default. Development only.
 */
import { writeFileSync } from 'node:fs';
import { exportJWK, generateKeyPair } from 'jose';

const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
const kid = `wor-dev-${new Date().toISOString().slice(0, 10)}`;
const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
writeFileSync('config/dev/jwks.json', `${JSON.stringify({ keys: [publicJwk] }, null, 2)}\n`);
writeFileSync('config/dev/signing-key.json', `${JSON.stringify(privateJwk, null, 2)}\n`);
console.log(`wrote config/dev/jwks.json and config/dev/signing-key.json (kid ${kid})`);
