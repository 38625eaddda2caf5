// Reloads the injector's serving certificate when its files change:
// cert-manager renews certificates before they expire and the kubelet
// updates a mounted Secret by swapping a symlink (..data) in its directory,
// so the directories holding the files are watched, not the files. A change
// is read after a short quiet period; a pair that does not load (a half
// written file, a key that does not match the certificate) is reported and
// the current certificate kept, until the next change brings a good pair.
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';

export interface CertReloaderOptions {
  certFile: string;
  keyFile: string;
  /** Installs a loaded pair (WebhookServer.setCertificate). */
  apply: (cert: Buffer, key: Buffer) => void;
  /** Called after each attempt: the error when the pair did not load. */
  onReload?: (err?: Error) => void;
  /** Quiet period after the last change before reading (default 200 ms). */
  debounceMs?: number;
}

export interface CertReloader {
  /** Reads the files now and installs them if they load. */
  reload(): Promise<void>;
  close(): void;
}

/** Reads the pair and checks it loads (the key matches the certificate) before installing it. */
async function loadPair(certFile: string, keyFile: string): Promise<{ cert: Buffer; key: Buffer }> {
  const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new Error(`${certFile} and ${keyFile} do not load as a certificate and its key (${(err as Error).message}); keeping the current certificate`, { cause: err });
  }
  return { cert, key };
}

export function watchCertificate(opts: CertReloaderOptions): CertReloader {
  let timer: NodeJS.Timeout | undefined;
  const reload = async () => {
    try {
      const { cert, key } = await loadPair(opts.certFile, opts.keyFile);
      opts.apply(cert, key);
      opts.onReload?.();
    } catch (err) {
      opts.onReload?.(err as Error);
    }
  };
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), opts.debounceMs ?? 200);
  };
  const dirs = [...new Set([dirname(opts.certFile), dirname(opts.keyFile)])];
  const watchers: FSWatcher[] = dirs.map((d) => watch(d, schedule));
  for (const w of watchers) w.on('error', () => undefined);
  return {
    reload,
    close() {
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
