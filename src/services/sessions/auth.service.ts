/**
 * Sign-up, sign-in, guest sessions, and the password's change and reset. Every sign-in issues a
 * fresh token (a guest's token is never promoted); a guest session carried into login or
 * register is handed to the registered {@link GuestHandoff}s (e.g. cart merge) and then ended.
 *
 * Password reset: `requestPasswordReset` answers true for any address after the same work (the
 * address looked up, a token made and hashed); for a known address, storing the token's hash and
 * enqueueing the email (through the {@link ResetMailer} the jobs module provides) start after the
 * answer is decided, so that their time is not in it. `resetPassword` consumes the token once
 * (GETDEL), sets the password, ends every session of the user, and books the address as a sign-in
 * success (its sign-in failures reset, the address known to the email).
 */
import { RESET_URL_TOKEN } from '../../config';
import type { RequestContext } from '../context';
import { newToken, sha256 } from '../../util/crypto';
import { badInput, unauthenticated } from '../../util/errors';
import type { Logger } from '../../util/logger';
import { MAIL_SECRET_PLACEHOLDER } from '../jobs/mail-secret';
import type { ResetTokens } from './reset-tokens';
import type { SessionRecord, SessionService } from './session.service';
import type { UserRecord, UserService } from './user.service';

export interface AuthResult {
  token: string;
  user: UserRecord | null;
  session: SessionRecord;
}

/**
 * Runs when someone signs in with their password (login) or by creating the account (register),
 * from `ctx`'s client; `email` is the account's. It runs alongside the session's creation, and a
 * failure of it is logged, not the sign-in's failure.
 */
export type SignedInHook = (ctx: RequestContext, email: string) => Promise<void>;

/** Runs when a guest signs in: moves the guest's state to the user. */
export type GuestHandoff = (guestSessionId: string, userId: string) => Promise<void>;

/**
 * Sends a password reset message. `body` holds {@link MAIL_SECRET_PLACEHOLDER} where `secret` (the raw token)
 * goes; the mailer must keep `secret` out of anything that outlives the delivery (job data, results, logs).
 */
export type ResetMailer = (message: { to: string; subject: string; body: string }, secret: string, ttlMs: number) => Promise<void>;

/** The one answer to a reset token that is unknown, used or expired. */
export const RESET_TOKEN_REFUSED = 'This password reset token is invalid, used or expired';
const refusedToken = () => badInput(RESET_TOKEN_REFUSED, { token: ['is invalid, used or expired'] });

const minutes = (ms: number): string => {
  const m = Math.round(ms / 60_000);
  return m >= 1 ? `${m} minute${m === 1 ? '' : 's'}` : `${Math.round(ms / 1000)} seconds`;
};

export class AuthService {
  private readonly handoffs: GuestHandoff[] = [];
  private readonly guestLogouts: Array<(guestSessionId: string) => Promise<void>> = [];
  private readonly registered: Array<(user: UserRecord, log: Logger) => Promise<void>> = [];
  private readonly signedIn: SignedInHook[] = [];
  private readonly checked: Array<(match: boolean) => void> = [];
  private mailer: ResetMailer | null = null;

  constructor(
    private readonly users: UserService,
    private readonly sessions: SessionService,
    private readonly resets: ResetTokens,
    /** PASSWORD_RESET_URL: the link the reset email carries, with `{token}` in it; null: the token alone. */
    private readonly resetUrl: string | null,
    private readonly log: Logger,
  ) {}

  /** Sets how reset emails are sent (the jobs module: an email.send job). */
  useResetMailer(fn: ResetMailer): void {
    this.mailer = fn;
  }

  /** Adds a step to run when a guest session signs in. */
  onGuestHandoff(fn: GuestHandoff): void {
    this.handoffs.push(fn);
  }

  /** Adds a step to run when a guest logs out (e.g. deleting its cart, which nobody can reach any more). */
  onGuestLogout(fn: (guestSessionId: string) => Promise<void>): void {
    this.guestLogouts.push(fn);
  }

  /** Adds a step to run once an account was created by `register` (e.g. the user.registered event); `log` is the request's. */
  onRegistered(fn: (user: UserRecord, log: Logger) => Promise<void>): void {
    this.registered.push(fn);
  }

  /** Adds a step to run on every successful sign-in (e.g. the sign-in throttle's bookkeeping). */
  onSignedIn(fn: SignedInHook): void {
    this.signedIn.push(fn);
  }

  /** Adds a listener told of each password check login makes (e.g. a metric of scrypt runs). */
  onPasswordChecked(fn: (match: boolean) => void): void {
    this.checked.push(fn);
  }

  async register(ctx: RequestContext, input: { email: string; password: string; name: string }): Promise<AuthResult> {
    const user = await this.users.create(input);
    for (const fn of this.registered) await fn(user, ctx.log);
    return this.signIn(ctx, user);
  }

  async login(ctx: RequestContext, input: { email: string; password: string }): Promise<AuthResult> {
    const user = await this.users.verifyCredentials(input.email, input.password);
    for (const fn of this.checked) fn(user !== null);
    if (!user) throw unauthenticated('Invalid email or password');
    return this.signIn(ctx, user);
  }

  async startGuest(ctx: RequestContext): Promise<AuthResult> {
    const { token, session } = await this.sessions.create(null, ctx.client);
    this.adopt(ctx, session, token);
    return { token, user: null, session };
  }

  /** Ends the current session; false when there was none. */
  async logout(ctx: RequestContext): Promise<boolean> {
    const session = await ctx.session();
    if (!session) return false;
    await this.sessions.end(session);
    if (!session.userId) for (const fn of this.guestLogouts) await fn(session.id);
    ctx.actAs(null, null);
    return true;
  }

  /**
   * The signed-in user's new password, after the current one is checked (a wrong one is UNAUTHENTICATED and
   * stays counted as a failed sign-in). Ends every other session of the user, on every instance, and any
   * reset token the user holds. Returns how many sessions ended.
   */
  async changePassword(ctx: RequestContext, currentPassword: string, newPassword: string): Promise<number> {
    const session = await ctx.session();
    const user = await ctx.user();
    if (!session?.userId || !user) throw unauthenticated();
    const ok = await this.users.checkPassword(user.id, currentPassword);
    for (const fn of this.checked) fn(ok);
    if (!ok) throw unauthenticated('The current password is wrong');
    await this.users.setPassword(user.id, newPassword);
    const [ended] = await Promise.all([this.sessions.revokeOthers(user.id, session.id), this.resets.endAll(user.id), this.noteSignIn(ctx, user.email)]);
    return ended;
  }

  /**
   * Always true. For a known address, an email with a one-time token follows (see the file comment); the
   * answer waits for the same work whether or not the address is known.
   */
  async requestPasswordReset(ctx: RequestContext, email: string): Promise<true> {
    // Made on both paths: the answer's time does not depend on whether it is used.
    const token = newToken();
    const tokenHash = sha256(token);
    const userId = await this.users.idByEmail(email);
    if (userId) {
      // Once the answer is on its way (the rest of this request is microtasks; this waits for the next turn).
      setImmediate(() => {
        this.sendReset(ctx, userId, token, tokenHash).catch((err: unknown) => {
          ctx.log.warn({ err: (err as Error).message, userId }, 'password reset email not sent');
        });
      });
    }
    return true;
  }

  private async sendReset(ctx: RequestContext, userId: string, token: string, tokenHash: string): Promise<void> {
    const user = await this.users.findById(userId);
    if (!user) return;
    if (!this.mailer) {
      ctx.log.warn({ userId }, 'password reset asked for, but no mailer is installed');
      return;
    }
    const ttlMs = this.resets.ttlMs;
    await this.resets.issue(user.id, tokenHash, Date.now() + ttlMs);
    const how = this.resetUrl
      ? `Open this link to choose a new password:\n\n${this.resetUrl.replace(RESET_URL_TOKEN, MAIL_SECRET_PLACEHOLDER)}`
      : `Your password reset token:\n\n${MAIL_SECRET_PLACEHOLDER}\n\nEnter it with your new password where you asked for the reset.`;
    const body = [
      `Someone, hopefully you, asked to reset the password of the account ${user.email}.`,
      how,
      `It works once, within ${minutes(ttlMs)}. Using it signs you out everywhere.`,
      'If you did not ask for this, ignore this message: your password stays as it is.',
    ].join('\n\n');
    await this.mailer({ to: user.email, subject: 'Reset your password', body }, token, ttlMs);
  }

  /**
   * Sets a new password with an emailed token (once; BAD_USER_INPUT {@link RESET_TOKEN_REFUSED} for an unknown,
   * used or expired one), ends every session of the user and every other reset token, and books the caller's
   * address as a sign-in success of the account. Returns how many sessions ended.
   */
  async resetPassword(ctx: RequestContext, token: string, newPassword: string): Promise<number> {
    if (!token || token.length > 128) throw refusedToken();
    const userId = await this.resets.consume(sha256(token));
    const user = userId ? await this.users.findById(userId) : null;
    if (!user) throw refusedToken();
    await this.users.setPassword(user.id, newPassword);
    const [ended] = await Promise.all([this.sessions.revokeAll(user.id), this.resets.endAll(user.id), this.noteSignIn(ctx, user.email)]);
    this.log.info({ event: 'password.reset', userId: user.id, sessionsEnded: ended }, 'password reset');
    return ended;
  }

  /** Runs the sign-in hooks (throttling's bookkeeping) for a proof of the account's password or mailbox; failures are logged. */
  private noteSignIn(ctx: RequestContext, email: string): Promise<void> {
    return Promise.all(this.signedIn.map((fn) => fn(ctx, email))).then(
      () => undefined,
      (err: unknown) => {
        ctx.log.warn({ err: (err as Error).message }, 'sign-in bookkeeping failed');
      },
    );
  }

  private async signIn(ctx: RequestContext, user: UserRecord): Promise<AuthResult> {
    // Started first so that its Redis call leaves in the same batch as the session's.
    const noted = this.noteSignIn(ctx, user.email);
    const previous = await ctx.session();
    const { token, session } = await this.sessions.create(user.id, ctx.client);
    if (previous && !previous.userId) {
      for (const handoff of this.handoffs) await handoff(previous.id, user.id);
      await this.sessions.end(previous);
    }
    await noted;
    this.adopt(ctx, session, token);
    return { token, user, session };
  }

  /** The rest of the request acts as the new session (the resolver sets the browser's cookie). */
  private adopt(ctx: RequestContext, session: SessionRecord, token: string): void {
    ctx.actAs(session, token);
  }
}
