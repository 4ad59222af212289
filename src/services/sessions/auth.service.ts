/**
 * Sign-up, sign-in and guest sessions. Every sign-in issues a fresh token (a
 * guest's token is never promoted); a guest session carried into login or
 * register is handed to the registered {@link GuestHandoff}s (e.g. cart merge)
 * and then ended.
 */
import type { RequestContext } from '../context';
import { unauthenticated } from '../../util/errors';
import type { Logger } from '../../util/logger';
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

export class AuthService {
  private readonly handoffs: GuestHandoff[] = [];
  private readonly guestLogouts: Array<(guestSessionId: string) => Promise<void>> = [];
  private readonly registered: Array<(user: UserRecord, log: Logger) => Promise<void>> = [];
  private readonly signedIn: SignedInHook[] = [];
  private readonly checked: Array<(match: boolean) => void> = [];

  constructor(
    private readonly users: UserService,
    private readonly sessions: SessionService,
  ) {}

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

  private async signIn(ctx: RequestContext, user: UserRecord): Promise<AuthResult> {
    // Started first so that its Redis call leaves in the same batch as the session's.
    const noted = Promise.all(this.signedIn.map((fn) => fn(ctx, user.email))).catch((err: unknown) => {
      ctx.log.warn({ err: (err as Error).message }, 'sign-in bookkeeping failed');
    });
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
