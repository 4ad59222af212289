/** The memoized Accept negotiation answers exactly as negotiator does, on first and later calls. */
import Negotiator from 'negotiator';
import { memoizeMediaTypeNegotiation } from '../../src/http/negotiation-cache';

const original = Negotiator.prototype.mediaType;
const OFFERS = [
  ['application/json; charset=utf-8', 'application/graphql-response+json; charset=utf-8', 'application/json; callbackSpec=1.0; charset=utf-8'],
  ['multipart/mixed; incrementalSpec=v0.2', 'multipart/mixed; deferSpec=20220824'],
  ['application/json; charset=utf-8', 'text/html'],
];
const ACCEPTS = [
  undefined,
  '',
  '*/*',
  'application/json',
  'application/graphql-response+json, application/json;q=0.9',
  'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'multipart/mixed; deferSpec=20220824, application/json',
  'image/png',
  'application/json;q=0',
];

test('answers match negotiator for every Accept and offer, cached or not', () => {
  const expected = ACCEPTS.flatMap((accept) => OFFERS.map((offer) => original.call(new Negotiator({ headers: { accept } }), offer)));
  memoizeMediaTypeNegotiation();
  memoizeMediaTypeNegotiation(); // idempotent
  expect(Negotiator.prototype.mediaType).not.toBe(original);
  for (let round = 0; round < 3; round++) {
    const got = ACCEPTS.flatMap((accept) => OFFERS.map((offer) => new Negotiator({ headers: { accept } }).mediaType(offer)));
    expect(got).toEqual(expected);
  }
  // A missing Accept means */*, an empty one accepts nothing: they must not share an answer.
  expect(new Negotiator({ headers: {} }).mediaType(OFFERS[0])).toBe(OFFERS[0][0]);
  expect(new Negotiator({ headers: { accept: '' } }).mediaType(OFFERS[0])).toBeUndefined();
});
