import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import type { ResolverContext } from '../context';
import { AuthPayload } from '../../types/sessions/auth.type';
import { LoginInput, RegisterInput } from '../../types/sessions/auth.input';
import { RateLimit, SignInAttempt } from '../../types/ratelimit/rate-limit.decorator';
import { toAuthPayload } from '../../types/sessions/sessions.mappers';
import { setSessionCookie } from '../../http/cookies';
import type { AuthResult } from '../../services/sessions/auth.service';
import type { RequestContext } from '../../services/context';

/** The answer to a sign-in: the payload, and the browser's session cookie with it. */
function signedIn(ctx: RequestContext, result: AuthResult, idleTtlMs: number): AuthPayload {
  setSessionCookie(ctx, result.token, result.session.expiresAt);
  return toAuthPayload(result, idleTtlMs);
}

@Resolver()
export class AuthResolver {
  @RateLimit({ name: 'register-ip', points: 10, window: '1h', burst: 5, by: 'ip', onRedisDown: 'closed' })
  @Mutation(() => AuthPayload, { description: 'Creates an account and signs in. A guest session carried along is merged into it.' })
  async register(@Arg('input', () => RegisterInput) input: RegisterInput, @Ctx() { ctx, services }: ResolverContext): Promise<AuthPayload> {
    return signedIn(ctx, await services.auth.register(ctx, input), services.config.sessions.idleTtlMs);
  }

  // Failed sign-ins are counted per (email, address), per address and, from addresses the account
  // never signed in from, per email (LOGIN_FAILURES_*): someone else's guesses from elsewhere never
  // refuse the owner at home. login-ip bounds every attempt per address, successes included: each
  // one costs a scrypt hash.
  @SignInAttempt({ email: 'input.email' })
  @RateLimit({ name: 'login-ip', points: 60, window: '15m', burst: 20, by: 'ip', onRedisDown: 'closed' })
  @Mutation(() => AuthPayload, { description: 'Signs in with a new token. A guest session carried along is merged into the user.' })
  async login(@Arg('input', () => LoginInput) input: LoginInput, @Ctx() { ctx, services }: ResolverContext): Promise<AuthPayload> {
    return signedIn(ctx, await services.auth.login(ctx, input), services.config.sessions.idleTtlMs);
  }

  @Mutation(() => AuthPayload, { description: 'Starts an anonymous session that can hold a cart.' })
  async startGuestSession(@Ctx() { ctx, services }: ResolverContext): Promise<AuthPayload> {
    return signedIn(ctx, await services.auth.startGuest(ctx), services.config.sessions.idleTtlMs);
  }

  @Mutation(() => Boolean, { description: 'Ends the current session on every instance; false when there was none.' })
  logout(@Ctx() { ctx, services }: ResolverContext): Promise<boolean> {
    // The cookie is cleared either way, so a stale one does not linger.
    setSessionCookie(ctx, null);
    return services.auth.logout(ctx);
  }
}
