/**
 * Unauthenticated routes for joining a host: the agent executable, its SHA-256 and the install script. None
 * of them reveals anything secret: the executable is the same for every fleet and the script only knows the
 * controller's public URL.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { publicUrlSchema, type ControllerConfig } from '../config';
import { AppError } from '../errors';
import { AGENT_ARTIFACT_NAME, AGENT_DOWNLOAD_PATH, INSTALL_SCRIPT_PATH, renderInstallScript } from './install-script';

export class AgentArtifactMissingError extends AppError {
  constructor() {
    super(404, 'agent_artifact_missing', `the agent executable (${AGENT_ARTIFACT_NAME}) is not built on this controller: run \`npm run build\` in its repository`);
  }
}

export class PublicUrlUnknownError extends AppError {
  constructor() {
    super(400, 'public_url_unknown', 'cannot tell this controller\'s public URL from the request\'s Host header; start the controller with --public-url');
  }
}

/** The configured public URL, else the one this request came in on (protocol + Host, honouring --trust-proxy). */
export function publicUrlFor(config: Pick<ControllerConfig, 'publicUrl'>, req: FastifyRequest): string {
  if (config.publicUrl) return config.publicUrl;
  // The Host header is the client's to choose: it goes into a shell script only after the same check as --public-url.
  const parsed = publicUrlSchema.safeParse(`${req.protocol}://${req.host}`);
  if (!parsed.success || new URL(parsed.data).pathname !== '/') throw new PublicUrlUnknownError();
  return parsed.data;
}

/** SHA-256 of the artifact, recomputed only when the file changed (a rebuild renames a new file into place). */
function checksumCache() {
  let cached: { key: string; hex: string } | null = null;
  return async (file: string): Promise<string> => {
    const st = await stat(file);
    const key = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (cached?.key === key) return cached.hex;
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    cached = { key, hex: hash.digest('hex') };
    return cached.hex;
  };
}

const isMissing = (err: unknown) => ['ENOENT', 'ENOTDIR', 'EISDIR'].includes((err as NodeJS.ErrnoException).code ?? '');

export function agentDownloadRoutes(app: FastifyInstance, config: Pick<ControllerConfig, 'publicUrl' | 'agentArtifact'>): void {
  const checksum = checksumCache();

  app.get(AGENT_DOWNLOAD_PATH, async (_req, reply) => {
    let handle;
    try {
      handle = await open(config.agentArtifact, 'r');
    } catch (err) {
      if (isMissing(err)) throw new AgentArtifactMissingError();
      throw err;
    }
    // Size from the open file: a rebuild that replaces the path meanwhile cannot make the length lie.
    const st = await handle.stat();
    if (!st.isFile()) {
      await handle.close();
      throw new AgentArtifactMissingError();
    }
    return reply
      .header('content-length', String(st.size))
      .header('content-disposition', `attachment; filename="${AGENT_ARTIFACT_NAME}"`)
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .type('application/octet-stream')
      .send(handle.createReadStream());
  });

  app.get(`${AGENT_DOWNLOAD_PATH}.sha256`, async (_req, reply) => {
    let hex: string;
    try {
      hex = await checksum(config.agentArtifact);
    } catch (err) {
      if (isMissing(err)) throw new AgentArtifactMissingError();
      throw err;
    }
    return reply.header('cache-control', 'no-cache').type('text/plain; charset=utf-8').send(`${hex}  ${AGENT_ARTIFACT_NAME}\n`);
  });

  app.get(INSTALL_SCRIPT_PATH, async (req, reply) => {
    const script = renderInstallScript(publicUrlFor(config, req));
    return reply.header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').type('text/x-shellscript; charset=utf-8').send(script);
  });
}
