/**
 * Several instances on one Redis (shared KEY_PREFIX): revocation and logout
 * take effect everywhere at once; the configured admin is created exactly once;
 * `@Authorized` roles are enforced by the auth checker.
 */
import { execute, parse } from 'graphql';
import { Authorized, buildSchema, Query, Resolver } from 'type-graphql';
import { authChecker } from '../../src/resolvers/viewer';
import { buildRequestContext } from '../../src/services/context';
import { startTestApp, registerUser, loginAs, ADMIN, adminToken, type TestApp } from '../helpers/app';
import { twoInstances } from '../helpers/instances';
import { rawRedis } from '../helpers/redis';

const ME = '{ me { id email roles } }';
const ADMIN_ENV = { ADMIN_EMAIL: `  ${ADMIN.email.toUpperCase()} `, ADMIN_PASSWORD: ADMIN.password };

let a: TestApp;
let b: TestApp;
let prefix: string;
// Started at the same moment: both see no admin and both try to create it.
const two = twoInstances(ADMIN_ENV);
beforeAll(() => ({ a, b, prefix } = two));

describe('revocation across instances', () => {
  test('a token issued by one instance works on the other', async () => {
    const u = await registerUser(a);
    expect((await b.gql(ME, {}, { token: u.token })).data?.me?.id).toBe(u.userId);
  });

  test('logout on one instance is effective on the other at once', async () => {
    const u = await registerUser(a);
    expect((await b.gql(ME, {}, { token: u.token })).data?.me?.id).toBe(u.userId);
    expect((await a.gql('mutation { logout }', {}, { token: u.token })).data?.logout).toBe(true);
    expect((await b.gql(ME, {}, { token: u.token })).data?.me).toBeNull();
  });

  test('revokeSession on one instance is effective on the other at once', async () => {
    const u = await registerUser(a);
    const other = await b.gql('mutation L($i: LoginInput!) { login(input: $i) { token session { id } } }', { i: { email: u.email, password: u.password } });
    const { token, session } = other.data!.login;
    expect((await a.gql('mutation R($id: ID!) { revokeSession(id: $id) }', { id: session.id }, { token: u.token })).data?.revokeSession).toBe(true);
    expect((await b.gql(ME, {}, { token })).data?.me).toBeNull();
    expect((await a.gql(ME, {}, { token })).data?.me).toBeNull();
  });
});

describe('configured admin', () => {
  test('exists exactly once with the ADMIN role after two instances started together', async () => {
    const r = rawRedis();
    try {
      const users: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:user:*`, 'COUNT', 1000);
        cursor = next;
        users.push(...keys.filter((k) => /:user:\{u:[^}]+\}$/.test(k)));
      } while (cursor !== '0');
      const admins = [];
      for (const key of users) if ((await r.hget(key, 'email')) === ADMIN.email) admins.push(key);
      expect(admins).toHaveLength(1);
    } finally {
      r.disconnect();
    }
    const token = await adminToken(a);
    expect((await b.gql(ME, {}, { token })).data?.me).toMatchObject({ email: ADMIN.email, roles: expect.arrayContaining(['ADMIN']) });
  });

  test('a third start finds the admin and leaves it alone', async () => {
    const before = (await a.app.services.users.findByEmail(ADMIN.email))!;
    const c = await startTestApp({ KEY_PREFIX: prefix, ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: 'a-different-password-9' });
    try {
      expect(await c.app.services.users.findByEmail(ADMIN.email)).toEqual(before);
      await loginAs(c, ADMIN.email, ADMIN.password);
    } finally {
      // Not c.close(): it would flush the prefix the other instances still use.
      await c.app.close();
    }
  });
});

describe('@Authorized roles', () => {
  @Resolver()
  class RoleProbe {
    @Authorized('ADMIN')
    @Query(() => String)
    adminOnly(): string {
      return 'admin data';
    }

    @Authorized()
    @Query(() => String)
    usersOnly(): string {
      return 'user data';
    }
  }

  const run = async (token: string | null, query: string) => {
    const schema = await buildSchema({ resolvers: [RoleProbe], authChecker, validate: false });
    const contextValue = {
      ctx: buildRequestContext(a.app.services, a.app.log, { ip: '127.0.0.1', userAgent: 'node-test', secure: false, token }),
      services: a.app.services,
    };
    return execute({ schema, document: parse(query), contextValue });
  };

  test('ADMIN passes, a customer is FORBIDDEN, guests and anonymous callers are UNAUTHENTICATED', async () => {
    const admin = await adminToken(a);
    const customer = (await registerUser(a)).token;
    const guest = (await a.gql('mutation { startGuestSession { token } }')).data!.startGuestSession.token;

    expect((await run(admin, '{ adminOnly }')).data).toEqual({ adminOnly: 'admin data' });
    expect((await run(customer, '{ adminOnly }')).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await run(guest, '{ adminOnly }')).errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    expect((await run(null, '{ adminOnly }')).errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');

    expect((await run(customer, '{ usersOnly }')).data).toEqual({ usersOnly: 'user data' });
    expect((await run(admin, '{ usersOnly }')).data).toEqual({ usersOnly: 'user data' });
    expect((await run(guest, '{ usersOnly }')).errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });
});
