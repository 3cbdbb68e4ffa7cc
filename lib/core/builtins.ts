/**
 * Node's built-in modules that cost time to load, loaded on first use. `require('socket-knobs')`
 * loads none of node:net, dgram, os, http, https, tls, dns or cluster (test/unit/modules.test.js
 * checks it): an application that passes a socket has loaded node:net already, so the first use
 * costs nothing either, and one that only checks `isSupported()` never pays for them.
 */
import type netModule = require('node:net');
import type dgramModule = require('node:dgram');
import type osModule = require('node:os');
import type httpModule = require('node:http');
import type typesModule = require('node:util/types');
import type dnsModule = require('node:dns');

let netCache: typeof netModule | undefined;
let dgramCache: typeof dgramModule | undefined;
let osCache: typeof osModule | undefined;
let httpCache: typeof httpModule | undefined;
let typesCache: typeof typesModule | undefined;
let dnsCache: typeof dnsModule | undefined;

export function net(): typeof netModule {
  return (netCache ??= require('node:net') as typeof netModule);
}

/** net.Socket and net.Server, the classes every lookup of a socket's fd tests against. */
export interface NetClasses {
  readonly Socket: typeof netModule.Socket;
  readonly Server: typeof netModule.Server;
}
let netClassesCache: NetClasses | undefined;

/**
 * net.Socket and net.Server, held in an object of their own: node:net's exports object is in
 * dictionary mode, so each read of it is a hash lookup, and the hot calls (every setter, tune())
 * test their target against these classes.
 */
export function netClasses(): NetClasses {
  return (netClassesCache ??= { Socket: net().Socket, Server: net().Server });
}

export function dgram(): typeof dgramModule {
  return (dgramCache ??= require('node:dgram') as typeof dgramModule);
}

export function os(): typeof osModule {
  return (osCache ??= require('node:os') as typeof osModule);
}

export function http(): typeof httpModule {
  return (httpCache ??= require('node:http') as typeof httpModule);
}

export function types(): typeof typesModule {
  return (typesCache ??= require('node:util/types') as typeof typesModule);
}

export function dns(): typeof dnsModule {
  return (dnsCache ??= require('node:dns') as typeof dnsModule);
}
