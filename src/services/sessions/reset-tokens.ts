/**
 * Password reset tokens in Redis: only a token's SHA-256 is stored, as the name of a key holding
 * the user id, with the token's lifetime (PASSWORD_RESET_TTL, 30 min). Consuming it is GETDEL: a
 * token works once, whichever instance sees it first. Each user's live tokens are indexed under the
 * user's tag, at most PASSWORD_RESET_PER_USER (3): a new one past that ends the oldest.
 */
import type { PasswordResetSettings } from '../../config';
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import { runScript } from '../../redis/scripts';

export class ResetTokens {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly settings: PasswordResetSettings,
  ) {}

  get ttlMs(): number {
    return this.settings.ttlMs;
  }

  /** Stores a token (by its hash) for the user until `expiresAt` (ms); ends the user's oldest past the cap. */
  async issue(userId: string, tokenHash: string, expiresAt: number): Promise<void> {
    await this.redis.set(this.keys.passwordReset(tokenHash), userId, 'PX', Math.max(1, expiresAt - Date.now()));
    const dropped = await runScript<string[]>(
      this.redis,
      'passwordResetIssue',
      [this.keys.userPasswordResets(userId)],
      [tokenHash, expiresAt, this.settings.perUser, Date.now()],
    );
    // One command each: every token is in its own Cluster slot.
    await Promise.all(dropped.map((h) => this.redis.del(this.keys.passwordReset(h))));
  }

  /** The user id a token resets, deleting it in the same command; null when unknown, used or expired. */
  consume(tokenHash: string): Promise<string | null> {
    return this.redis.getdel(this.keys.passwordReset(tokenHash));
  }

  /** Ends every live token of the user (after a reset or a password change, they are not wanted any more). */
  async endAll(userId: string): Promise<void> {
    const index = this.keys.userPasswordResets(userId);
    // Read and emptied at once: a token issued meanwhile is either read here or indexed afresh.
    const replies = await this.redis.multi().zrange(index, '0', '-1').del(index).exec();
    const hashes = (replies?.[0]?.[1] as string[] | undefined) ?? [];
    await Promise.all(hashes.map((h) => this.redis.del(this.keys.passwordReset(h))));
  }
}
