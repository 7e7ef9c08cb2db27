export type { AppendMethod } from './append.js';
export { DEFAULT_APPEND_METHOD, PostgresStore, type PostgresStoreOptions } from './store.js';
