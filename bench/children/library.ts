/**
 * The library as built into dist/ (the same build the worker and serve processes run),
 * typed from its sources. Load-generator children use it rather than src/ under tsx, so
 * that every process of a run executes one and the same build: the run's private copy
 * when the benchmark says so (BENCH_BUILD_DIR), else the checkout's dist/.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

type Library = typeof import('../../src/index.js');
type Stores = typeof import('../../src/store/index.js');

const DIST = resolve(process.env.BENCH_BUILD_DIR ?? resolve(import.meta.dirname, '../..'), 'dist');

export async function loadLibrary(): Promise<Library> {
  return (await import(pathToFileURL(resolve(DIST, 'index.js')).href)) as Library;
}

export async function loadStores(): Promise<Stores> {
  return (await import(pathToFileURL(resolve(DIST, 'store/index.js')).href)) as Stores;
}
