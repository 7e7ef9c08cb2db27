/**
 * `auditline serve`: builds the app over a runtime and listens. In embedded mode the
 * in-process queue has no other consumer, so a worker runs in this process too.
 */
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { type AuditlineConfig, isLoopbackHost } from '../config.js';
import { ConfigError } from '../core/errors.js';
import type { Runtime } from '../runtime.js';
import { Worker } from '../worker/worker.js';
import { buildApp } from './app.js';

export interface ServerOptions {
  /**
   * Run a worker in this process if the runtime does not already (`runtime.worker`).
   * Default: only in embedded mode.
   */
  worker?: boolean;
  /** Stop gracefully on SIGTERM/SIGINT. Default true; tests that stop the server themselves pass false. */
  handleSignals?: boolean;
  /** Fastify (pino) logger settings. Default: warnings and errors to stdout. */
  log?: FastifyServerOptions['logger'];
}

export interface RunningServer {
  app: FastifyInstance;
  /** e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** Stops accepting, finishes in-flight requests, stops the worker, closes the runtime. Idempotent. */
  stop(): Promise<void>;
  /** Resolves once the server has stopped, whatever stopped it. */
  closed: Promise<void>;
}

/**
 * Refuses configurations that would expose an unauthenticated ingest endpoint to the
 * network: anyone who can reach it could write (or read) audit records.
 * @throws ConfigError when `host` is not a loopback address and no API keys are configured.
 */
export function assertSafeBind(config: Readonly<Pick<AuditlineConfig, 'host' | 'apiKeys'>>): void {
  if (!isLoopbackHost(config.host) && config.apiKeys.length === 0) {
    throw new ConfigError(
      `refusing to listen on ${config.host} without API keys: set AUDITLINE_API_KEYS ` +
        '(comma-separated bearer tokens) or bind a loopback address such as 127.0.0.1',
    );
  }
}

const DRAIN_POLL_MS = 50;

/**
 * In embedded mode the queue lives in this process's memory: whatever the worker has not
 * written when the process exits would be lost, so shutdown lets it drain first (bounded
 * by the shutdown timeout, in case the store is down).
 */
async function drainEmbeddedQueue(runtime: Runtime): Promise<void> {
  const deadline = Date.now() + runtime.config.shutdownTimeoutMs;
  try {
    while (Date.now() < deadline && (await runtime.queue.depth()) > 0) {
      await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    }
  } catch {
    // A queue that cannot report its depth cannot be drained; closing must still happen.
  }
}

/**
 * Listens on `config.host:config.port` and, in embedded mode, starts a worker. Once it
 * resolves, the server owns the runtime: `stop()` (or a signal) closes it. If it throws
 * (unsafe bind, port in use), the runtime is left open for the caller to close.
 * @throws ConfigError (before binding anything) when {@link assertSafeBind} refuses.
 */
export async function startServer(runtime: Runtime, opts: ServerOptions = {}): Promise<RunningServer> {
  const { config } = runtime;
  assertSafeBind(config);
  const app = buildApp(
    {
      config,
      logger: runtime.logger,
      store: runtime.store,
      queue: runtime.queue,
      metrics: runtime.metrics.reader,
    },
    { log: opts.log ?? { level: 'warn' } },
  );
  // The runtime usually runs the in-process worker already (embedded mode); start one here
  // only when it does not and one is needed: nothing else consumes an in-memory queue.
  const ownWorker =
    runtime.worker === null && (opts.worker ?? config.mode === 'embedded')
      ? new Worker({ queue: runtime.queue, store: runtime.store, config })
      : null;
  const drainOnStop = config.mode === 'embedded' && (runtime.worker !== null || ownWorker !== null);

  let stopping: Promise<void> | null = null;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => {
    resolveClosed = r;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      // A second signal while draining: the operator wants out now.
      process.stderr.write(`auditline: ${signal} again, exiting without finishing shutdown\n`);
      process.exit(1);
    }
    process.stderr.write(`auditline: ${signal} received, shutting down\n`);
    stop().catch((err: unknown) => {
      process.stderr.write(`auditline: shutdown failed: ${String(err)}\n`);
      process.exitCode = 1;
    });
  };
  const handleSignals = opts.handleSignals ?? true;

  function stop(): Promise<void> {
    stopping ??= (async () => {
      try {
        // Order matters: no new events in, then everything queued written, then connections closed.
        await app.close();
        if (drainOnStop) await drainEmbeddedQueue(runtime);
        await ownWorker?.stop();
        await runtime.close();
      } finally {
        if (handleSignals) {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
        }
        resolveClosed();
      }
    })();
    return stopping;
  }

  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await app.close();
    throw err;
  }
  ownWorker?.start();
  if (handleSignals) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return { app, url: `http://${host}:${port}`, stop, closed };
}
