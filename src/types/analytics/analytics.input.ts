import { IsInt, IsOptional, IsUrl, Matches, Max, MaxLength, Min } from 'class-validator';
import { Field, InputType, Int } from 'type-graphql';
import { badInput } from '../../util/errors';

/** Letters, digits and `_ . : @ -`: ids a web app makes (cookies, UUIDs, hashes). */
export const VISITOR_ID = /^[A-Za-z0-9_.:@-]{1,128}$/;

/** For a visitorId passed as a plain argument (outside an input class): BAD_USER_INPUT unless it fits {@link VISITOR_ID}. */
export function checkVisitorId(visitorId: string | null | undefined): void {
  if (visitorId && !VISITOR_ID.test(visitorId)) throw badInput('visitorId must be 1 to 128 letters, digits or _ . : @ -', { visitorId: ['invalid'] });
}
export const MAX_PAGE_LENGTH = 256;
/** $1,000,000.00 per conversion: plenty for a shop, small enough that totals stay exact. */
export const MAX_VALUE_CENTS = 100_000_000;

@InputType()
export class PageViewInput {
  @Field({ description: 'The path, starting with "/"; query string and fragment are dropped. At most 256 characters.' })
  @MaxLength(2048)
  @Matches(/^\/[^\s]*$/, { message: 'must be a path starting with "/" and without spaces' })
  page!: string;

  @Field(() => String, { nullable: true, description: 'An http(s) URL of at most 1024 characters.' })
  @IsOptional()
  @MaxLength(1024)
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false }, { message: 'must be an http or https URL' })
  referrer?: string | null;

  @Field(() => String, { nullable: true, description: 'Defaults to the signed-in user, else the session, else an anonymous hash of IP and user agent.' })
  @IsOptional()
  @Matches(VISITOR_ID, { message: 'must be 1 to 128 letters, digits or _ . : @ -' })
  visitorId?: string | null;
}

@InputType()
export class ConversionInput {
  @Field({ description: 'Such as "purchase" or "signup": 1 to 64 letters, digits or _ . : -.' })
  @Matches(/^[A-Za-z0-9_.:-]{1,64}$/, { message: 'must be 1 to 64 letters, digits or _ . : -' })
  type!: string;

  @Field(() => Int, {
    nullable: true,
    description:
      'Revenue in cents, 0 to 100000000; defaults to 0. Counted as revenue only when an admin sends it: from anyone else the conversion is recorded with no revenue. Purchases count their revenue server-side, when the order completes.',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_VALUE_CENTS)
  valueCents?: number | null;

  @Field(() => String, { nullable: true, description: "Attribute the conversion to the viewer's variant of this experiment." })
  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'must be an experiment key' })
  experiment?: string | null;

  @Field(() => String, { nullable: true, description: 'Decided as in assignVariant: counts only for callers without a session, and for admins.' })
  @IsOptional()
  @Matches(VISITOR_ID, { message: 'must be 1 to 128 letters, digits or _ . : @ -' })
  visitorId?: string | null;
}
