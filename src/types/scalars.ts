import { DateTimeResolver, JSONObjectResolver } from 'graphql-scalars';

/** ISO-8601 UTC timestamps. */
export const DateTimeScalar = DateTimeResolver;
/** Arbitrary JSON objects (job data and results). */
export const JSONObjectScalar = JSONObjectResolver;
