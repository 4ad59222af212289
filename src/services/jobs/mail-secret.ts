/**
 * A secret an email carries (a password reset token) without being stored as it is. The sender
 * seals it (AES-256-GCM under a fresh key): the sealed box goes in a short-lived Redis key
 * (`mailSecret(ref)`), and the job's data holds only `{ ref, key }` and a body with
 * {@link MAIL_SECRET_PLACEHOLDER} where the secret goes. At delivery the mail service opens the
 * box, puts the secret in the message it sends, and deletes the box. So the job's data, which
 * admins can read and which is kept after the job completes, never holds the secret, and once
 * delivered nothing in Redis can give it back. Client jobs cannot carry a secret.
 */

/** Where the secret goes in a message's body. */
export const MAIL_SECRET_PLACEHOLDER = '{{secret}}';

/** What the job's data carries to find and open the secret. */
export interface MailSecretRef {
  /** Random hex naming the box's key. */
  ref: string;
  /** The AES key, base64url. */
  key: string;
}

/** Shown instead of a secret where it may not be stored: the Redis outbox. */
export const SECRET_WITHHELD = '[withheld: the outbox keeps no secrets; set SMTP_URL to deliver it]';

const REF = /^[0-9a-f]{32}$/;
const KEY = /^[A-Za-z0-9_-]{43}$/;

/** The ref as given, when it has the shape {@link MailService.holdSecret} makes; null otherwise. */
export function mailSecretRef(v: unknown): MailSecretRef | null {
  if (typeof v !== 'object' || v === null) return null;
  const { ref, key } = v as Record<string, unknown>;
  return typeof ref === 'string' && typeof key === 'string' && REF.test(ref) && KEY.test(key) ? { ref, key } : null;
}
