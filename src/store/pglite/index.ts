export { PgliteStore, type PgliteStoreOptions } from './store.js';
