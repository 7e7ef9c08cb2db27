// Copies non-TypeScript assets (Lua scripts, SQL migrations) next to the compiled JS.
import { cpSync, existsSync } from 'node:fs';

const assets = [
  ['src/queue/redis/lua', 'dist/queue/redis/lua'],
  ['src/store/postgres/migrations', 'dist/store/postgres/migrations'],
];
for (const [from, to] of assets) {
  if (existsSync(from)) cpSync(from, to, { recursive: true });
}
