/**
 * Name resolution for dial(): the lookup called as Node's net.connect() calls it, its answer checked,
 * the addresses ordered for the race (RFC 8305). No socket here.
 */
import type dns = require('node:dns');
import { dns as dnsModule, net as netModule } from '../core/builtins';
import { syscallError } from '../core/syscall';
import { invalidValue } from '../core/validate';
import type { DialOptions, DialPlan } from './plan';

/** libuv's EAI_NONAME (the same number on every platform): a name with no usable address. */
const UV_EAI_NONAME = 3008;

/** The addresses of `plan.host`, as lookupAddresses() finds them, as a promise. */
export function addressesOf(plan: DialPlan): Promise<dns.LookupAddress[]> {
  return new Promise((resolveAddresses, reject) => lookupAddresses(plan, (err, addresses) => (err ? reject(err) : resolveAddresses(addresses!))));
}

/**
 * Calls `done` exactly once with the addresses of `plan.host` in the order to try (the first family
 * first, then alternating: RFC 8305), or with the error: an address literal's own, at once; a name's
 * from the resolver. A callback, not a promise: a dial to a name is then one promise, not three
 * (profiled: the promises and the async steps between them were a tenth of such a dial's own CPU).
 */
export function lookupAddresses(plan: DialPlan, done: (err: Error | null, addresses?: dns.LookupAddress[]) => void): void {
  const literal = plan.hostFamily;
  if (literal !== 0) {
    if (plan.family !== 0 && plan.family !== literal)
      return done(invalidValue('options.host', `is an IPv${literal} address, but family is ${plan.family}`, plan.host));
    return done(null, [{ address: plan.host, family: literal }]);
  }
  // node:dns through the builtins' cache: a require() per dial was 2 µs of a dial's CPU (profiled).
  const lookup = plan.lookup ?? dnsModule().lookup;
  // Called as Node's net.connect() calls it (nodejs/node/lib/net.js, lookupAndConnect): ADDRCONFIG when no family
  // and no hints are given (not on Windows); every address (`all: true`) only when it would race
  // them itself: no family, no localAddress, autoSelectFamily on. Otherwise one address, answered
  // as (err, address, family). A resolver passed by a client (an SSRF guard, a DNS pin) sees what it
  // would see under Node.
  const hints = plan.hints || (process.platform !== 'win32' && plan.family === 0 ? dnsModule().ADDRCONFIG : 0);
  const all = plan.family === 0 && plan.localAddress === undefined && plan.autoSelectFamily;
  const family = plan.family === 0 ? undefined : plan.family;
  const options = (all ? { family, hints, all: true } : { family, hints }) as dns.LookupAllOptions;
  let answered = false;
  // A resolver may throw, call back twice, or answer with anything: the first answer counts, and
  // only well-formed addresses are tried.
  const onLookup = (err: NodeJS.ErrnoException | null, answer: unknown, answerFamily?: unknown): void => {
    if (answered) return;
    answered = true;
    let addresses: dns.LookupAddress[];
    try {
      addresses = checkAnswer(plan, all, err, answer, answerFamily);
    } catch (error) {
      return done(error as Error);
    }
    done(null, addresses);
  };
  try {
    lookup(plan.host, options, onLookup as Parameters<NonNullable<DialOptions['lookup']>>[2]);
  } catch (err) {
    // A resolver that threw after calling back has answered: its answer counts.
    if (answered) return;
    answered = true;
    done(err as Error);
  }
}

/** The resolver's answer as the addresses to try, or the error to reject with (the resolver's own when it has no errno). */
function checkAnswer(plan: DialPlan, all: boolean, err: NodeJS.ErrnoException | null, answer: unknown, answerFamily: unknown): dns.LookupAddress[] {
  if (err) {
    if (err.errno === undefined) throw err;
    const errno = Math.abs(Number(err.errno)) || UV_EAI_NONAME;
    throw syscallError(errno, 'getaddrinfo', { address: plan.host, port: plan.port }, undefined, err.code === 'ENOTFOUND' ? 'no such host' : undefined);
  }
  // The one-address form, when that is what was asked for.
  const addresses = !all && typeof answer === 'string' ? [{ address: answer, family: answerFamily }] : answer;
  if (!Array.isArray(addresses)) {
    const expected = all
      ? 'called back with something other than an array of { address, family } (what dns.lookup gives with all: true)'
      : 'called back with something other than (err, address, family) or an array of { address, family }';
    throw invalidValue('options.lookup', expected, addresses);
  }
  const list = (addresses as unknown[]).filter(
    (a): a is dns.LookupAddress =>
      a !== null &&
      typeof a === 'object' &&
      typeof (a as dns.LookupAddress).address === 'string' &&
      netModule().isIP((a as dns.LookupAddress).address) === (a as dns.LookupAddress).family &&
      (plan.family === 0 || (a as dns.LookupAddress).family === plan.family),
  );
  if (list.length === 0) {
    throw syscallError(
      UV_EAI_NONAME,
      'getaddrinfo',
      { address: plan.host, port: plan.port },
      undefined,
      `no ${plan.family ? `IPv${plan.family} ` : ''}address`,
    );
  }
  return interleave(list);
}

/** The families interleaved, starting with the first the resolver returned (RFC 8305). */
function interleave(list: dns.LookupAddress[]): dns.LookupAddress[] {
  // One family (the common answer): already in order.
  if (list.every((a) => a.family === list[0]!.family)) return list;
  const first = list.filter((a) => a.family === list[0]!.family);
  const other = list.filter((a) => a.family !== list[0]!.family);
  const ordered: dns.LookupAddress[] = [];
  for (let i = 0; i < Math.max(first.length, other.length); i++) {
    if (first[i]) ordered.push(first[i]!);
    if (other[i]) ordered.push(other[i]!);
  }
  return ordered;
}
