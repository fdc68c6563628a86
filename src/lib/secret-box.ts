import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Secrets Gatehouse must be able to read back (an identity provider's client secret, a TOTP seed) are kept
 * encrypted at rest with AES-256-GCM. The key is derived with HKDF-SHA256 from the server's audit secret
 * (`GATEHOUSE_AUDIT_KEY`, else `DATA_DIR/audit.key`) under its own label, so an operator keeps one secret and
 * the chain key cannot be computed from this one, nor this one from the chain key. A database copy alone
 * reveals none of these secrets.
 *
 * Each sealed value is bound to where it is stored (`context`, e.g. `auth_providers.client_secret:idp_…`) as
 * GCM's associated data: a ciphertext copied into another row or column does not open.
 */
export type SecretBox = {
  /** `v1.<iv>.<ciphertext>.<tag>` (base64url), for `plaintext` stored at `context`. */
  seal(plaintext: string, context: string): string;
  /** The plaintext; throws `SecretBoxError` when the value was not sealed with this key at this context. */
  open(sealed: string, context: string): string;
};

export class SecretBoxError extends Error {}

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function createSecretBox(secret: Buffer): SecretBox {
  const key = Buffer.from(
    hkdfSync('sha256', secret, Buffer.alloc(0), 'gatehouse secret box aes-256-gcm v1', 32),
  );
  return {
    seal(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const parts = [iv, body, cipher.getAuthTag()].map((b) => b.toString('base64url'));
      return [VERSION, ...parts].join('.');
    },
    open(sealed, context) {
      const [version, iv, body, tag, ...rest] = sealed.split('.');
      if (version !== VERSION || iv === undefined || body === undefined || tag === undefined || rest.length)
        throw new SecretBoxError('not a sealed secret of this version');
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), {
          authTagLength: TAG_BYTES,
        });
        decipher.setAAD(Buffer.from(context, 'utf8'));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
          'utf8',
        );
      } catch {
        throw new SecretBoxError(
          "a stored secret does not open with this server's key: was GATEHOUSE_AUDIT_KEY (or DATA_DIR/audit.key) changed?",
        );
      }
    },
  };
}
