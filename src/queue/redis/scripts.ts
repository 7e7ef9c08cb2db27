/**
 * The queue's Lua scripts, kept as files in `./lua/` named `<name>-<numKeys>.lua` (bullmq's
 * convention). They are read once per process, on first use, and registered on each
 * connection with ioredis `defineCommand`, which calls them by SHA (EVALSHA) and loads them
 * on NOSCRIPT. The directory is resolved from this module's URL, so the same code finds
 * `src/queue/redis/lua` under tsx and `dist/queue/redis/lua` after `npm run build`
 * (scripts/copy-assets.mjs copies it). Helpers shared by several scripts live in
 * `./lua/includes/` and are pasted in where a script says `--- @include "name"`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/** One script file. */
export interface LuaScript {
  /** Command name registered on the connection, e.g. `enqueue` for `enqueue-2.lua`. */
  name: string;
  numberOfKeys: number;
  lua: string;
}

/** The registered commands, as callable on a connection after {@link defineQueueCommands}. */
export interface QueueCommands {
  /** enqueue-2.lua: resolves the number of leading events appended. */
  enqueue(
    stream: string,
    counts: string,
    cap: number,
    ...countBodyPairs: (string | number)[]
  ): Promise<number>;
  /** ack-2.lua: resolves the number of events removed from the stream. */
  ack(stream: string, counts: string, group: string, ...idCountPairs: (string | number)[]): Promise<number>;
  /** read-1.lua: resolves `[id, body, n, …]`. */
  read(
    stream: string,
    group: string,
    consumer: string,
    maxEvents: number,
    perEntry: number,
  ): Promise<(string | number)[]>;
  /** reclaim-1.lua: resolves `[id, body, n, deliveries, …]`. */
  reclaim(
    stream: string,
    group: string,
    consumer: string,
    minIdleMs: number,
    maxEvents: number,
    perEntry: number,
  ): Promise<(string | number)[]>;
  /** deadletter-3.lua: resolves the number of events moved. */
  deadletter(
    stream: string,
    dead: string,
    counts: string,
    group: string,
    reason: string,
    firstSeenIso: string,
    tripleCount: number,
    ...triplesThenCompletedPairs: (string | number)[]
  ): Promise<number>;
}

const LUA_DIR = new URL('./lua/', import.meta.url);
const FILE_RE = /^([a-z][a-z0-9]*)-(\d+)\.lua$/;
const REQUIRED: readonly (keyof QueueCommands)[] = ['enqueue', 'ack', 'read', 'reclaim', 'deadletter'];

const INCLUDE_RE = /^--- @include "([a-z][a-z0-9]*)"$/gm;

/**
 * Replaces each `--- @include "name"` line (bullmq's convention) with `includes/name.lua`:
 * Redis runs every script on its own, so helpers several scripts share are pasted in.
 */
function withIncludes(lua: string): string {
  return lua.replace(INCLUDE_RE, (_line, name: string) =>
    readFileSync(new URL(`includes/${name}.lua`, LUA_DIR), 'utf8').trimEnd(),
  );
}

let cache: readonly LuaScript[] | undefined;

/** Reads every script in the `lua` directory (once per process). */
export function loadScripts(): readonly LuaScript[] {
  if (cache) return cache;
  const scripts: LuaScript[] = [];
  for (const file of readdirSync(LUA_DIR).sort()) {
    const m = FILE_RE.exec(file);
    if (!m) continue;
    scripts.push({
      name: m[1]!,
      numberOfKeys: Number(m[2]),
      lua: withIncludes(readFileSync(new URL(file, LUA_DIR), 'utf8')),
    });
  }
  // A missing file would otherwise surface later as "x is not a function" mid-request.
  const missing = REQUIRED.filter((name) => !scripts.some((s) => s.name === name));
  if (missing.length > 0) {
    throw new Error(`queue Lua scripts missing from ${LUA_DIR.pathname}: ${missing.join(', ')}`);
  }
  cache = Object.freeze(scripts);
  return cache;
}

/** Registers the scripts on a connection and returns it typed with the script commands. */
export function defineQueueCommands(redis: Redis): Redis & QueueCommands {
  for (const s of loadScripts()) {
    redis.defineCommand(s.name, { numberOfKeys: s.numberOfKeys, lua: s.lua });
  }
  return redis as Redis & QueueCommands;
}
