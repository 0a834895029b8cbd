import { createHmac } from 'node:crypto';

/**
 * Keyed hashes of values that come from requests (identifiers, BSNs, codes) wherever they serve as
 * keys: an unkeyed hash of a BSN is reversed by trying the ~10⁸ valid ones, a keyed one is not.
 * Each purpose gets a key of its own, derived from the one secret in configuration.
 */
export class KeyedHash {
  private readonly key: Buffer;

  constructor(secret: string, purpose: string) {
    this.key = createHmac('sha256', secret).update(`wor-bridge:${purpose}`).digest();
  }

  /** 128 bits, base64url: short enough for an index, far too many to guess. */
  of(value: string): string {
    return createHmac('sha256', this.key).update(value).digest('base64url').slice(0, 22);
  }

  /** The full HMAC-SHA256 of the parts, in hex: for chains, where nothing may be cut. */
  full(...parts: string[]): string {
    const hmac = createHmac('sha256', this.key);
    for (const part of parts) hmac.update(part);
    return hmac.digest('hex');
  }
}
